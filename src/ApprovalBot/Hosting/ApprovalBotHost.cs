using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace ApprovalBot.Hosting;

internal static class ApprovalBotHost
{
    /// <summary>
    /// A host builder whose configuration is <c>config/appsettings.json</c> beside the application (so
    /// <c>dotnet run</c>, a published folder, Docker and systemd start alike), then environment variables,
    /// then the command line.
    /// </summary>
    public static HostApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = "ApprovalBot",
        });
        builder.Configuration.Sources.Clear();
        AddSources(builder.Configuration, args);
        return builder;
    }

    /// <summary>The service's configuration without a host: what the store commands (backup, restore) read.</summary>
    public static IConfigurationRoot Configuration(string[] args) => AddSources(new ConfigurationBuilder(), args).Build();

    private static IConfigurationBuilder AddSources(IConfigurationBuilder configuration, string[] args) => configuration
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "config", "appsettings.json"), optional: false, reloadOnChange: false)
        .AddEnvironmentVariables()
        .AddCommandLine(args);
}
