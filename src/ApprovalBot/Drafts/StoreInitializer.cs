using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Drafts;

/// <summary>
/// Opens the database before any other feature starts, so nothing is accepted that could not be stored, then runs the
/// features' <see cref="IStoreOpenedStep"/>s, which must be done before anything can reach the store from outside.
/// </summary>
internal sealed partial class StoreInitializer(
    SqliteDatabase database, DraftWriter writer, IEnumerable<IStoreOpenedStep> steps, ILogger<StoreInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        database.Initialize();
        LogOpened(database.DatabasePath, SchemaMigrations.Latest);
        foreach (var step in steps)
        {
            await step.RunAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Drain queued writes before the lock is released, so an acknowledged write is never cut off by shutdown.
        await writer.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Store open at {DatabasePath} (schema {SchemaVersion}, WAL, synchronous=FULL)")]
    private partial void LogOpened(string databasePath, int schemaVersion);
}
