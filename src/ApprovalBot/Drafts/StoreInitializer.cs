using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Drafts;

/// <summary>Opens the database before any other feature starts, so nothing is accepted that could not be stored.</summary>
internal sealed partial class StoreInitializer(SqliteDatabase database, DraftWriter writer, ILogger<StoreInitializer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        database.Initialize();
        LogOpened(database.DatabasePath, SchemaMigrations.Latest);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Drain queued writes before the lock is released, so an acknowledged write is never cut off by shutdown.
        await writer.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Store open at {DatabasePath} (schema {SchemaVersion}, WAL, synchronous=FULL)")]
    private partial void LogOpened(string databasePath, int schemaVersion);
}
