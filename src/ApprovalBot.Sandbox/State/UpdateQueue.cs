using System.Text.Json.Nodes;

namespace ApprovalBot.Sandbox.State;

/// <summary>Updates not yet confirmed by the bot, with getUpdates' offset semantics. Touched only under the state lock.</summary>
internal sealed class UpdateQueue(long firstUpdateId)
{
    /// <summary>Telegram's default when allowed_updates is empty or was never given.</summary>
    private static readonly HashSet<string> ExcludedByDefault = ["chat_member", "message_reaction", "message_reaction_count"];

    private readonly List<QueuedUpdate> _pending = [];
    private long _nextId = firstUpdateId;
    private HashSet<string>? _allowed;

    /// <summary>Every update below this id is gone: the bot confirmed it with getUpdates' offset.</summary>
    public long ConfirmedOffset { get; private set; } = firstUpdateId;

    /// <summary>The highest update id a getUpdates answer has carried, or 0.</summary>
    public long HighestDelivered { get; private set; }

    public PollTicket? ActivePoll { get; private set; }

    /// <summary>The effective (clamped) timeout of the latest long poll, so tests can check clamping without waiting it out.</summary>
    public TimeSpan? LastPollTimeout { get; set; }

    public int PendingCount => _pending.Count;

    public IReadOnlyCollection<string>? AllowedUpdates => _allowed;

    public bool Accepts(string type) => _allowed?.Contains(type) ?? !ExcludedByDefault.Contains(type);

    public void SetAllowedUpdates(IReadOnlyCollection<string> types) => _allowed = types.Count == 0 ? null : [.. types];

    /// <summary>Adds an update unless the bot's allowed_updates excludes its type; returns the id either way.</summary>
    public long Enqueue(string type, Func<long, JsonObject> build, bool bypassFilter = false)
    {
        var id = _nextId++;
        if (bypassFilter || Accepts(type))
        {
            _pending.Add(new QueuedUpdate(id, type, build(id)));
        }

        return id;
    }

    public long EnqueueRaw(JsonNode json, bool assignUpdateId)
    {
        var id = _nextId++;
        if (assignUpdateId && json is JsonObject obj)
        {
            obj["update_id"] = id;
        }

        var type = json is JsonObject o ? o.Select(p => p.Key).FirstOrDefault(k => k != "update_id") ?? "unknown" : "unknown";
        _pending.Add(new QueuedUpdate(id, type, json));
        return id;
    }

    // Where the ids stood before RestartIdsAt moved them lower: offsets up to it are a bot's from before the restart.
    private long? _restartedFrom;

    /// <summary>
    /// Telegram's "no new updates for at least a week": the next update's id is chosen afresh, here <paramref name="nextId"/>,
    /// below the ids before. A bot still polling with its old offset is handed the new updates all the same.
    /// </summary>
    public void RestartIdsAt(long nextId)
    {
        _restartedFrom = _nextId;
        _nextId = nextId;
        ConfirmedOffset = nextId;
    }

    /// <summary>getUpdates' offset: positive confirms everything below it; negative keeps only the last -offset updates.</summary>
    public void Confirm(long offset)
    {
        if (offset > _nextId && offset <= _restartedFrom)
        {
            return;
        }
        if (offset > 0)
        {
            _pending.RemoveAll(u => u.Id < offset);
            ConfirmedOffset = Math.Max(ConfirmedOffset, offset);
        }
        else if (offset < 0)
        {
            var keep = (int)Math.Min(-offset, _pending.Count);
            _pending.RemoveRange(0, _pending.Count - keep);
            ConfirmedOffset = Math.Max(ConfirmedOffset, _pending.Count > 0 ? _pending[0].Id : _nextId);
        }
    }

    /// <summary>Moves a queued update behind every other one; false when it is not queued.</summary>
    public bool MoveToEnd(long id)
    {
        var index = _pending.FindIndex(u => u.Id == id);
        if (index < 0)
        {
            return false;
        }

        var update = _pending[index];
        _pending.RemoveAt(index);
        _pending.Add(update);
        return true;
    }

    public void DropAll()
    {
        _pending.Clear();
        ConfirmedOffset = _nextId;
    }

    public IReadOnlyList<QueuedUpdate> Peek(int limit) => _pending.Take(limit).ToArray();

    public void MarkDelivered(IReadOnlyList<QueuedUpdate> updates)
    {
        if (updates.Count > 0)
        {
            HighestDelivered = Math.Max(HighestDelivered, updates.Max(u => u.Id));
        }
    }

    /// <summary>Registers a new poll and returns the one it displaces, to be terminated outside the lock.</summary>
    public PollTicket? BeginPoll(PollTicket ticket)
    {
        var previous = ActivePoll;
        ActivePoll = ticket;
        return previous;
    }

    public void EndPoll(PollTicket ticket)
    {
        if (ActivePoll == ticket)
        {
            ActivePoll = null;
        }
    }
}
