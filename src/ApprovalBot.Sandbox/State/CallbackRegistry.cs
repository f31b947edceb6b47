using System.Globalization;

namespace ApprovalBot.Sandbox.State;

/// <summary>Callback queries created by simulated presses, and how the bot answered them.</summary>
internal sealed class CallbackRegistry
{
    // A per-instance prefix keeps query ids unique across sandbox restarts, like Telegram's opaque ids.
    private readonly string _prefix = Random.Shared.NextInt64(100_000_000, 999_999_999).ToString(CultureInfo.InvariantCulture);
    private readonly Dictionary<string, CallbackQueryRecord> _queries = new(StringComparer.Ordinal);
    private long _sequence;

    public CallbackQueryRecord Create(long fromUserId, long chatId, int messageId, string data)
    {
        var id = _prefix + (++_sequence).ToString("D6", CultureInfo.InvariantCulture);
        var query = new CallbackQueryRecord(id, fromUserId, chatId, messageId, data);
        _queries[id] = query;
        return query;
    }

    public CallbackQueryRecord? Find(string id) => _queries.GetValueOrDefault(id);

    /// <summary>Ends the answer window of every query so far; returns how many were still unanswered.</summary>
    public int ExpireAll()
    {
        var open = 0;
        foreach (var query in _queries.Values)
        {
            open += query.Answer is null && !query.Expired ? 1 : 0;
            query.Expired = true;
        }
        return open;
    }

    public IEnumerable<CallbackAnswer> Answers => _queries.Values.Select(q => q.Answer).OfType<CallbackAnswer>().OrderBy(a => a.At);
}
