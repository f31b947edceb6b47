using System.Diagnostics;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>
/// A real, size-capped filesystem (tmpfs) for disk-full tests. Needs root, as CI has; a
/// ballast file takes up the space so the test can free it again to see recovery.
/// </summary>
internal sealed class SmallDisk : IDisposable
{
    private SmallDisk(string path) => Path = path;

    public string Path { get; }

    public static bool CanMount => Environment.UserName == "root";

    public static SmallDisk Mount(int megabytes)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ab-disk-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path);
        return new SmallDisk(path);
    }

    /// <summary>Fills the disk, leaving about <paramref name="leaveKilobytes"/> free.</summary>
    public void Fill(int leaveKilobytes)
    {
        var info = new DriveInfo(Path);
        var size = Math.Max(0, info.AvailableFreeSpace - leaveKilobytes * 1024L);
        using var ballast = new FileStream(System.IO.Path.Combine(Path, "ballast"), FileMode.Create);
        var chunk = new byte[64 * 1024];
        for (long written = 0; written < size; written += chunk.Length)
        {
            try
            {
                ballast.Write(chunk, 0, (int)Math.Min(chunk.Length, size - written));
            }
            catch (IOException)
            {
                break;
            }
        }
    }

    public void FreeBallast() => File.Delete(System.IO.Path.Combine(Path, "ballast"));

    public void Dispose()
    {
        try
        {
            Run("umount", "-l", Path);
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
        }
    }

    private static void Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed: {error}");
        }
    }
}
