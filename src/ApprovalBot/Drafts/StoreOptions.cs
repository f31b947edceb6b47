namespace ApprovalBot.Drafts;

/// <summary>Bound from <c>ApprovalBot</c>: where the database and logs live.</summary>
internal sealed class StoreOptions
{
    public const string Section = "ApprovalBot";

    /// <summary>Folder of <c>approvals.db</c> and <c>logs/</c>; relative paths are relative to the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>How many queued writes one transaction (one fsync) may acknowledge.</summary>
    public int MaxBatch { get; set; } = 256;

    /// <summary>Milliseconds a reader waits on a locked database before giving up.</summary>
    public int BusyTimeoutMs { get; set; } = 5000;

    /// <summary>Whether <paramref name="path"/> can be made a full path (no NUL, or on Windows no other character a path cannot hold).</summary>
    public static bool IsValidPath(string path) => path.IndexOfAny(Path.GetInvalidPathChars()) < 0;

    public string DatabasePath => Path.Combine(Path.GetFullPath(DataDirectory), "approvals.db");
}
