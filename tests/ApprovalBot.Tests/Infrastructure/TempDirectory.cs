namespace ApprovalBot.Tests.Infrastructure;

/// <summary>A fresh folder under /tmp, short enough that a socket path inside it fits the 107-byte limit.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ab-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A child process may still hold a log file open for a moment; the folder is under /tmp anyway.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
