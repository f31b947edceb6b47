namespace ApprovalBot.Backups;

/// <summary>What a store file holds, as a backup or restore reports it.</summary>
internal sealed record StoreSummary(int SchemaVersion, long Drafts, long LastSeq, long Bytes)
{
    public override string ToString() =>
        $"{Drafts} draft{(Drafts == 1 ? "" : "s")}, seq up to {LastSeq}, schema {SchemaVersion}, {Size(Bytes)}";

    private static string Size(long bytes) => bytes switch
    {
        < 1024 * 1024 => $"{bytes / 1024.0:F0} KB",
        < 1024L * 1024 * 1024 => $"{bytes / 1024.0 / 1024:F1} MB",
        _ => $"{bytes / 1024.0 / 1024 / 1024:F2} GB",
    };
}
