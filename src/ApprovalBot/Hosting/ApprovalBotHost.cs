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
        if (!File.Exists(SettingsFile))
        {
            // Said as a refusal, not as the JSON provider's FileNotFoundException with its stack trace.
            throw new StartupRefusedException(Missing);
        }
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

    private static string SettingsFile => Path.Combine(AppContext.BaseDirectory, "config", "appsettings.json");

    private static string Missing =>
        $"the configuration file '{SettingsFile}' is missing. ApprovalBot reads its settings from it, and it ships beside the " +
        "program (config/appsettings.json in the build output, a published folder and the Docker image): copy it back from " +
        "config/appsettings.json at the root of the repository, then give your own settings there, in the environment or on the command line";

    private static IConfigurationBuilder AddSources(IConfigurationBuilder configuration, string[] args) => configuration
        .AddJsonFile(SettingsFile, optional: false, reloadOnChange: false)
        .AddEnvironmentVariables()
        .AddCommandLine(args);
}
