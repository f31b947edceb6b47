using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// The crash points of a program (each fsync, fdatasync and rename), and a SIGKILL at any one of them: the LD_PRELOAD
/// shim <c>Native/sync_log.c</c>, compiled here with gcc. A run with <see cref="Environment"/> and no kill lists every point (<see cref="Taken"/>:
/// <c>"&lt;n&gt; fsync &lt;path&gt;"</c>), on the files and folders the patterns name only; a run with a kill at n sends
/// the process SIGKILL just before the n-th point's call. A test kills at each point of the dry run in turn.
/// </summary>
internal sealed class CrashPoints : IDisposable
{
    private readonly TempDirectory _work;
    private readonly string _patterns;

    private CrashPoints(TempDirectory work, IEnumerable<string> patterns)
    {
        _work = work;
        _patterns = string.Join(':', patterns);
        Assert.DoesNotContain(':', patterns.SelectMany(p => p));
        ShimPath = work.Combine("sync_log.so");
    }

    public string ShimPath { get; }

    private string PointsFile => _work.Combine("points.log");

    /// <summary>
    /// Compiles the shim, counting the points on the paths <paramref name="patterns"/> match (fnmatch, a <c>*</c> matching
    /// <c>/</c> too; a rename counts when its source or its target matches).
    /// </summary>
    public static async Task<CrashPoints> CreateAsync(params string[] patterns)
    {
        var work = new TempDirectory();
        var points = new CrashPoints(work, patterns);
        try
        {
            await NativeShim.BuildAsync("sync_log.c", points.ShimPath, "crash-point test");
        }
        catch
        {
            work.Dispose();
            throw;
        }
        return points;
    }

    /// <summary>The environment of a run that lists its points and, with <paramref name="killAt"/>, dies at that one.</summary>
    public IReadOnlyDictionary<string, string> Environment(int? killAt = null)
    {
        File.Delete(PointsFile);
        var environment = new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = ShimPath,
            ["APPROVALBOT_CRASH_PATHS"] = _patterns,
            ["APPROVALBOT_CRASH_POINTS"] = PointsFile,
        };
        if (killAt is { } n)
        {
            environment["APPROVALBOT_CRASH_AT"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return environment;
    }

    /// <summary>The points the last run passed, in order; the killed one ends with <c>(killed here)</c>.</summary>
    public IReadOnlyList<string> Taken() => File.Exists(PointsFile) ? File.ReadAllLines(PointsFile) : [];

    public void Dispose() => _work.Dispose();
}
