using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// The LD_PRELOAD shim <c>Native/sync_log.c</c>, compiled here with gcc: a program started with <see cref="Environment"/>
/// logs each fsync (by path) and each rename, in order, so a test sees whether what it wrote was made durable.
/// </summary>
internal sealed class SyncLog : IDisposable
{
    private readonly TempDirectory _work;

    private SyncLog(TempDirectory work)
    {
        _work = work;
        Environment = new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = work.Combine("sync_log.so"),
            ["APPROVALBOT_SYNC_LOG"] = work.Combine("sync.log"),
        };
    }

    /// <summary>What a program's process needs in its environment to be logged.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>Compiles the shim. Fails (does not skip) when gcc is missing.</summary>
    public static async Task<SyncLog> CreateAsync()
    {
        var log = new SyncLog(new TempDirectory());
        try
        {
            await NativeShim.BuildAsync("sync_log.c", log.Environment["LD_PRELOAD"], "sync test");
        }
        catch
        {
            log.Dispose();
            throw;
        }
        return log;
    }

    /// <summary>Every line logged so far, then an empty log.</summary>
    public IReadOnlyList<string> Take()
    {
        var path = Environment["APPROVALBOT_SYNC_LOG"];
        if (!File.Exists(path))
        {
            return [];
        }
        var lines = File.ReadAllLines(path);
        File.Delete(path);
        return lines;
    }

    public void Dispose() => _work.Dispose();
}
