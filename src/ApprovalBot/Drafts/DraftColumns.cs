using Microsoft.Data.Sqlite;

namespace ApprovalBot.Drafts;

/// <summary>The column list and row mapping of the drafts table, kept beside each other so they cannot drift.</summary>
internal static class DraftColumns
{
    /// <summary>An SQL IN list of the parameters <paramref name="prefix"/>0, 1… for <paramref name="count"/> values (<see cref="InListParameters"/>).</summary>
    public static string InList(string prefix, int count) => string.Join(", ", Enumerable.Range(0, count).Select(i => prefix + i));

    /// <summary>The parameters of <see cref="InList"/>, one per value, in order.</summary>
    public static (string Name, object? Value)[] InListParameters(string prefix, IReadOnlyList<string> values) =>
        [.. values.Select((value, i) => (prefix + i, (object?)value))];

    public const string Select =
        "SELECT id, seq, kind, agent, text, sha256, context, state, created_at, updated_at, state_since, " +
        "card_chat_id, card_message_id, card_attempts, card_next_at, card_error, " +
        "decision, decided_by, decided_by_name, decided_at, decision_sha256, " +
        "exec_attempts, exec_next_at, exec_key, lease_token, lease_until, exec_result, exec_error, exec_at, card_shown_state, card_shown_since, " +
        "cancelled_by, cancel_reason, marked_done_by, marked_done_by_name FROM drafts";

    /// <summary>Columns an owner may set alongside a transition.</summary>
    public static readonly IReadOnlySet<string> Settable = new HashSet<string>(StringComparer.Ordinal)
    {
        "card_chat_id", "card_message_id", "card_attempts", "card_next_at", "card_error", "card_shown_state", "card_shown_since",
        "decision", "decided_by", "decided_by_name", "decided_at", "decision_sha256",
        "exec_attempts", "exec_next_at", "exec_key", "lease_token", "lease_until", "exec_result", "exec_error", "exec_at",
        "cancelled_by", "cancel_reason", "marked_done_by", "marked_done_by_name",
    };

    public static Draft Read(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        Seq = r.GetInt64(1),
        Kind = r.GetString(2),
        Agent = r.GetString(3),
        Text = r.IsDBNull(4) ? null : r.GetString(4),
        Sha256 = r.GetString(5),
        ContextJson = r.IsDBNull(6) ? null : r.GetString(6),
        State = DraftStateNames.Parse(r.GetString(7)),
        CreatedAt = Time(r, 8)!.Value,
        UpdatedAt = Time(r, 9)!.Value,
        StateSince = Time(r, 10)!.Value,
        CardChatId = Long(r, 11),
        CardMessageId = Long(r, 12),
        CardAttempts = r.GetInt32(13),
        CardNextAt = Time(r, 14),
        CardError = Str(r, 15),
        Decision = Str(r, 16),
        DecidedBy = Long(r, 17),
        DecidedByName = Str(r, 18),
        DecidedAt = Time(r, 19),
        DecisionSha256 = Str(r, 20),
        ExecAttempts = r.GetInt32(21),
        ExecNextAt = Time(r, 22),
        ExecKey = Str(r, 23),
        LeaseToken = Str(r, 24),
        LeaseUntil = Time(r, 25),
        ExecResult = Str(r, 26),
        ExecError = Str(r, 27),
        ExecAt = Time(r, 28),
        CardShownState = Str(r, 29),
        CardShownSince = Time(r, 30),
        CancelledBy = Str(r, 31),
        CancelReason = Str(r, 32),
        MarkedDoneBy = Long(r, 33),
        MarkedDoneByName = Str(r, 34),
    };

    public static long ToUnixMs(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    private static DateTimeOffset? Time(SqliteDataReader r, int i) =>
        r.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

    private static long? Long(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt64(i);

    private static string? Str(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
}
