using ApprovalBot;
using ApprovalBot.Backups;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Hosting;
using ApprovalBot.Pipe;
using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram;
using Microsoft.Extensions.Hosting;
using Serilog;

if (!OperatingSystem.IsWindows() && StoreCommand.Parse(args) is { } storeCommand)
{
    // backup / restore: an operator's command with its own output and exit code, not the service (Unix only:
    // it syncs folders with fsync).
    return storeCommand.Run(Console.Out, Console.Error, TimeProvider.System);
}

Log.Logger = new LoggerConfiguration().WriteTo.Console().CreateLogger();
try
{
    var builder = ApprovalBotHost.CreateBuilder(args);
    builder.AddApprovalBotLogging();
    builder.AddApprovalStore();
    builder.AddAgentPipe();
    builder.AddTelegram();
    builder.AddApprovalJobs();
    builder.AddReconciliation();

    using var host = builder.Build();
    host.ValidateConfiguration();
    return await host.RunUntilStoppedAsync();
}
catch (OperationCanceledException)
{
    // SIGTERM while still starting (systemd stop, docker stop): a requested stop, not a failure.
    Log.Information("ApprovalBot stopped before it finished starting");
    return 0;
}
catch (StartupRefusedException ex)
{
    Log.Fatal("ApprovalBot could not start: {Reason}", ex.Message);
    return 1;
}
catch (Exception ex) when (StartupFailure.ConfigurationErrors(ex) is { } errors)
{
    Log.Fatal("ApprovalBot configuration is invalid:{Errors}", StartupFailure.AsList(errors));
    return 1;
}
catch (Exception ex)
{
    Log.Fatal(ex, "ApprovalBot could not run: {Reason}", ex.Message);
    return 1;
}
finally
{
    await Log.CloseAndFlushAsync();
}
