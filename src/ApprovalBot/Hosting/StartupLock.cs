using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Hosting;

/// <summary>
/// A lock file that makes this process the only one serving something (the data directory, the agent pipe), and the
/// way to take it: <paramref name="Take"/> throws <see cref="StartupRefusedException"/> while another process holds it.
/// With no <paramref name="LockPath"/>, something another process may hold that no file stands for (the built-in sandbox's
/// address), looked at without creating anything. A feature registers one as a singleton; <see cref="TakeAll"/> takes
/// every one before any part of the host starts.
/// </summary>
internal sealed record StartupLock(string? LockPath, Action Take)
{
    /// <summary>
    /// Takes every lock, those that create nothing first (no file, or their file is there already): one held by a
    /// running instance refuses the start before anything is created. The store used to be opened before the pipe's lock
    /// was looked at, so a second instance given a data directory of its own but the pipe of a running one left an empty
    /// approvals.db (and a log folder) there on its way out. A new file is created only once every existing one is
    /// held; only another instance starting at the same moment on the same new path can still refuse the start after it.
    /// </summary>
    public static void TakeAll(IServiceProvider services)
    {
        foreach (var startupLock in services.GetServices<StartupLock>().OrderBy(l => l.LockPath is null || File.Exists(l.LockPath) ? 0 : 1))
        {
            startupLock.Take();
        }
    }
}
