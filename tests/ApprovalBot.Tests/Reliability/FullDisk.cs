using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// Makes a data directory behave like a full disk, on demand, for a process started with <see cref="Environment"/>: the
/// LD_PRELOAD shim <c>Native/readonly_fs.c</c> in its <c>enospc</c> mode, compiled here with gcc. While the marker file
/// (outside the directory) exists, whatever needs new blocks there fails with ENOSPC, as on a full ext4 or tmpfs: a
/// write past a file's end, a truncate or fallocate that grows one. Writes over existing bytes, fsync, creating an
/// empty file, unlink and rename go through. Unlike a real small disk (<see cref="SmallDisk"/>), it needs no root and
/// fills and empties at once, also before the process starts.
/// </summary>
internal sealed class FullDisk : IDisposable
{
    private readonly TempDirectory _work;

    private FullDisk(TempDirectory work, string dataDirectory)
    {
        _work = work;
        ShimPath = work.Combine("full_disk.so");
        Marker = work.Combine("full");
        Environment = new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = ShimPath,
            ["APPROVALBOT_FAULT_KIND"] = "enospc",
            ["APPROVALBOT_FAULT_READONLY_DIR"] = dataDirectory,
            ["APPROVALBOT_FAULT_READONLY_MARKER"] = Marker,
        };
    }

    public string ShimPath { get; }

    public string Marker { get; }

    /// <summary>What a process needs in its environment to be subject to this disk.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>Compiles the shim for <paramref name="dataDirectory"/>. Fails (does not skip) when gcc is missing.</summary>
    public static async Task<FullDisk> CreateAsync(string dataDirectory)
    {
        var work = new TempDirectory();
        var disk = new FullDisk(work, dataDirectory);
        try
        {
            await NativeShim.BuildAsync("readonly_fs.c", disk.ShimPath, "full disk test");
        }
        catch
        {
            work.Dispose();
            throw;
        }
        return disk;
    }

    /// <summary>From now on nothing in the data directory can grow.</summary>
    public void Fill() => File.WriteAllText(Marker, "full\n");

    /// <summary>Space returns, as after deleting what filled the disk.</summary>
    public void FreeSpace() => File.Delete(Marker);

    public void Dispose() => _work.Dispose();
}
