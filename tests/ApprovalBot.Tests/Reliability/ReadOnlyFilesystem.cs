using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// Makes a data directory behave like a filesystem remounted read-only, on demand, for a host started with
/// <see cref="Environment"/>. A real remount is refused (EBUSY) while SQLite holds its files open for writing,
/// and root ignores file modes, so the host runs with the LD_PRELOAD shim <c>Native/readonly_fs.c</c>, compiled
/// here with gcc: while the marker file exists, every write, truncate, fsync, create, unlink or rename inside the
/// directory fails with EROFS, as the kernel answers on a read-only mount. The marker lives outside that directory.
/// </summary>
internal sealed class ReadOnlyFilesystem : IDisposable
{
    private const string Source = "readonly_fs.c";
    private readonly TempDirectory _work;

    private ReadOnlyFilesystem(TempDirectory work, string dataDirectory)
    {
        _work = work;
        ShimPath = work.Combine("readonly_fs.so");
        Marker = work.Combine("read-only");
        Environment = new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = ShimPath,
            ["APPROVALBOT_FAULT_READONLY_DIR"] = dataDirectory,
            ["APPROVALBOT_FAULT_READONLY_MARKER"] = Marker,
        };
    }

    public string ShimPath { get; }

    public string Marker { get; }

    /// <summary>What the host's process needs in its environment to be subject to this filesystem.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    public bool IsReadOnly => File.Exists(Marker);

    /// <summary>Compiles the shim for <paramref name="dataDirectory"/>. Fails (does not skip) when gcc is missing.</summary>
    public static async Task<ReadOnlyFilesystem> CreateAsync(string dataDirectory)
    {
        var work = new TempDirectory();
        var filesystem = new ReadOnlyFilesystem(work, dataDirectory);
        try
        {
            await NativeShim.BuildAsync(Source, filesystem.ShimPath, "read-only disk test");
        }
        catch
        {
            work.Dispose();
            throw;
        }
        return filesystem;
    }

    /// <summary>From now on every change inside the data directory fails with EROFS.</summary>
    public void MakeReadOnly() => File.WriteAllText(Marker, "read-only\n");

    /// <summary>The directory is writable again, as after <c>mount -o remount,rw</c>.</summary>
    public void MakeWritable() => File.Delete(Marker);

    public void Dispose() => _work.Dispose();
}
