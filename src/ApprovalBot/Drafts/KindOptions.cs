namespace ApprovalBot.Drafts;

/// <summary>
/// The contract of one kind, bound from <c>ApprovalBot:Kinds:&lt;kind&gt;</c>. Its executor route
/// (<c>…:Executor</c>) belongs to the execution feature and is bound there.
/// </summary>
internal sealed class KindOptions
{
    /// <summary>Most characters (Unicode code points) the text may have.</summary>
    public int MaxLength { get; set; } = 4000;

    /// <summary>How long a draft may await a decision before it is reported stale.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long an approved draft may wait for execution before it is reported stuck.</summary>
    public TimeSpan StuckAfter { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How long after its submission a draft nobody decided on expires (pending or carded -> expired); null, the
    /// default, never. Left out by default: a draft waiting forever was the behaviour before this setting existed.
    /// </summary>
    public TimeSpan? ExpireAfter { get; set; }
}

/// <summary>All configured kinds, bound from <c>ApprovalBot:Kinds</c>.</summary>
internal sealed class KindsOptions
{
    public const string Section = "ApprovalBot:Kinds";

    public Dictionary<string, KindOptions> Kinds { get; } = new(StringComparer.Ordinal);
}
