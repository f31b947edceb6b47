using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Sandbox;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// The soak's steady mixed traffic, every actor a loop until the stop: agents submitting over persistent and
/// short-lived connections, connections dropped mid-request, waits that time out and waits abandoned by closing the
/// connection (on drafts the approver leaves for minutes, as an agent killed mid-wait leaves one), list/get/report
/// readers, an approver tapping in the sandbox (decisions, some late enough to go stale or to be reminded, Retry /
/// Mark done / Discard on escalations, Dismiss on stray taps), a pull worker that completes, fails and lets
/// leases expire, and strangers writing to the bot and pressing its buttons. Draft ids carry the route's outcome
/// (<c>:ok</c>, <c>:fail</c>, <c>:slow</c>), which the command route reads. Every kind of draft ends decided and
/// every failure reaches a human's button, so the store's open work stays bounded and only data grows.
/// </summary>
internal sealed class SoakWorkload(HostUnderTest host, SandboxServer sandbox, int seed)
{
    public const string ReplyKind = "reply"; // command route, not idempotent: a timeout becomes unknown
    public const string DmKind = "dm";       // command route, idempotent: a timeout is retried
    public const string PostKind = "post";   // pull route

    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _recent = new();
    // Drafts whose card the approver leaves for minutes (a break): what an agent killed mid-wait was waiting for.
    private readonly ConcurrentDictionary<string, byte> _undecided = new(StringComparer.Ordinal);
    private long _requests;
    private long _nextDraft;
    private Samples _submits = new();

    /// <summary>Requests sent over the pipe so far (answered or not).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Submit latencies since the last call, and a fresh collection for the next interval.</summary>
    public Samples TakeSubmitLatencies() => Interlocked.Exchange(ref _submits, new Samples());

    public IReadOnlyDictionary<string, long> Counts => _counts;

    private SandboxControl Control => sandbox.Control;

    public Task RunAsync(CancellationToken stop) => Task.WhenAll(
        Loop("agent 0", stop, r => PersistentAgentAsync(0, r, stop)),
        Loop("agent 1", stop, r => PersistentAgentAsync(1, r, stop)),
        Loop("short-lived agent", stop, r => ShortLivedAgentAsync(r, stop)),
        Loop("dropper", stop, r => DropperAsync(r, stop)),
        Loop("reader", stop, r => ReaderAsync(r, stop)),
        Loop("pull worker", stop, r => PullWorkerAsync(r, stop)),
        Loop("approver", stop, r => ApproverAsync(r, stop)),
        Loop("stranger", stop, r => StrangerAsync(r, stop)));

    private void Count(string what, long by = 1) => _counts.AddOrUpdate(what, by, (_, n) => n + by);

    /// <summary>Runs an actor again after any failure it did not handle itself (counted), until the stop.</summary>
    private async Task Loop(string name, CancellationToken stop, Func<Random, Task> actor)
    {
        var random = new Random(seed * 31 + name.Sum(c => c));
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await actor(random);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is IOException or TimeoutException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
                Count($"{name}: {ex.GetType().Name}");
                try
                {
                    await Task.Delay(200, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task<Response> Call(PipeClient client, Func<PipeClient, Task<Response>> call, string what)
    {
        Interlocked.Increment(ref _requests);
        var response = await call(client);
        Count(response.Ok ? what : $"{what}: {response.Error?.Code}");
        return response;
    }

    private (DraftSubmission Draft, string Id) NewDraft(Random random, int agent)
    {
        var n = Interlocked.Increment(ref _nextDraft);
        var kind = random.NextDouble() switch { < 0.45 => ReplyKind, < 0.65 => DmKind, _ => PostKind };
        var outcome = kind == PostKind ? "ok" : random.NextDouble() switch { < 0.80 => "ok", < 0.92 => "fail", _ => "slow" };
        var id = $"{kind}:soak{agent}:{n.ToString(CultureInfo.InvariantCulture)}:{outcome}";
        return (new DraftSubmission
        {
            Id = id,
            Kind = kind,
            Agent = "soak-agent-" + agent.ToString(CultureInfo.InvariantCulture),
            Text = Text(random, id, kind),
            Context = random.Next(3) == 0 ? null : JsonDocument.Parse($$"""{"rationale":"asked in thread {{n}}","source_url":"https://x.example/{{n}}"}""").RootElement,
        }, id);
    }

    private static readonly string[] Words = ["ship", "it", "thanks", "<b>bold?</b>", "a & b", "naïve", "日本語", "🚀", "\"quoted\"", "line\nbreak", "Friday"];

    /// <summary>Mostly reply-sized; now and then a dm too long for one message (a card with the text as an attached file).</summary>
    private static string Text(Random random, string id, string kind)
    {
        var text = new StringBuilder("Draft ").Append(id).Append(':');
        var words = kind == DmKind && random.Next(20) == 0 ? 900 : random.Next(3, kind == ReplyKind ? 25 : 60);
        for (var i = 0; i < words; i++)
        {
            text.Append(' ').Append(Words[random.Next(Words.Length)]);
        }
        var max = kind switch { ReplyKind => 280, PostKind => 3000, _ => 4000 };
        var s = text.ToString();
        return s.EnumerateRunes().Count() <= max ? s : string.Concat(s.EnumerateRunes().Take(max).Select(r => r.ToString()));
    }

    private void Remember(string id)
    {
        _recent.Enqueue(id);
        while (_recent.Count > 200 && _recent.TryDequeue(out _))
        {
        }
    }

    private string? RecentId(Random random)
    {
        var ids = _recent.ToArray();
        return ids.Length == 0 ? null : ids[random.Next(Math.Max(0, ids.Length - 20), ids.Length)];
    }

    /// <summary>One connection for good: submit, then now and then a wait that times out, a get, a duplicate, a conflict, a bad request.</summary>
    private async Task PersistentAgentAsync(int agent, Random random, CancellationToken stop)
    {
        await using var client = await host.ConnectAsync();
        while (!stop.IsCancellationRequested)
        {
            var (draft, id) = NewDraft(random, agent);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var receipt = await Call(client, c => c.SubmitAsync(draft, stop), "submit");
            _submits.Add(Ms.Since(started));
            if (receipt.Ok) Remember(id);
            switch (random.NextDouble())
            {
                case < 0.25:
                    // Undecided yet: answered decided:false at its timeout.
                    var waited = await Call(client, c => c.WaitAsync(id, random.Next(100, 300), stop), "wait");
                    if (waited.Decided == false) Count("wait timed out");
                    break;
                case < 0.35:
                    await Call(client, c => c.GetAsync(id, stop), "get");
                    break;
                case < 0.40:
                    await Call(client, c => c.SubmitAsync(draft, stop), "submit again (duplicate)");
                    break;
                case < 0.42:
                    await Call(client, c => c.SubmitAsync(draft with { Text = draft.Text + " (edited)" }, stop), "submit changed text");
                    break;
                case < 0.45:
                    await Call(client, c => c.SubmitAsync(draft with { Id = id + ":bad", Text = " \u200B " }, stop), "submit invisible text");
                    break;
            }
            await Task.Delay(random.Next(300, 800), stop);
        }
    }

    /// <summary>A connection per draft, as a script calling approvalctl does.</summary>
    private async Task ShortLivedAgentAsync(Random random, CancellationToken stop)
    {
        await Task.Delay(random.Next(400, 1200), stop);
        await using var client = await host.ConnectAsync();
        var (draft, id) = NewDraft(random, 9);
        var receipt = await Call(client, c => c.SubmitAsync(draft, stop), "submit (short-lived)");
        if (receipt.Ok) Remember(id);
        if (random.Next(2) == 0) await Call(client, c => c.GetAsync(id, stop), "get");
        if (random.Next(5) == 0) await Call(client, c => c.WaitAsync(id, 100, stop), "wait");
    }

    /// <summary>Connections that go away at the wrong moment.</summary>
    private async Task DropperAsync(Random random, CancellationToken stop)
    {
        await Task.Delay(random.Next(500, 1500), stop);
        var (draft, id) = NewDraft(random, 8);
        var submitLine = JsonSerializer.Serialize(new { op = "submit", draft = new { id = draft.Id, kind = draft.Kind, agent = draft.Agent, text = draft.Text } }) + "\n";
        var undecided = _undecided.Keys.ToArray();
        var target = undecided.Length > 0 ? undecided[random.Next(undecided.Length)] : RecentId(random) ?? id;
        switch (random.NextDouble())
        {
            case < 0.25:
                // The whole submit, then gone before the receipt: the draft is stored, the answer hits a closed socket.
                await RawAsync(submitLine, TimeSpan.Zero, stop);
                Remember(id);
                Count("dropped after submit");
                break;
            case < 0.40:
                await RawAsync(submitLine[..(submitLine.Length / 2)], TimeSpan.Zero, stop);
                Count("dropped mid-line");
                break;
            case < 0.65:
                // An agent killed while it waits (Ctrl+C on `approvalctl wait --timeout 600`).
                await RawAsync($$"""{"op":"wait","id":"{{target}}","timeout_ms":600000}""" + "\n", TimeSpan.FromMilliseconds(random.Next(20, 200)), stop);
                Count("wait abandoned (closed)");
                break;
            case < 0.80:
                // A client giving up on its own time limit (a cancelled call) closes the connection too. Not the client's
                // ResponseTimeout: that counts on top of the time the wait asks the service to wait.
                await using (var client = await host.ConnectAsync())
                {
                    using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    giveUp.CancelAfter(random.Next(100, 300));
                    try
                    {
                        Interlocked.Increment(ref _requests);
                        await client.WaitAsync(target, 300_000, giveUp.Token);
                        Count("wait answered before the client gave up");
                    }
                    catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                    {
                        Count("wait abandoned (client gave up)");
                    }
                }
                break;
            case < 0.90:
                await RawAsync(null, TimeSpan.Zero, stop);
                Count("connected and closed");
                break;
            default:
                await using (var client = await host.ConnectAsync())
                {
                    Interlocked.Increment(ref _requests);
                    var answer = await client.SendRawAsync("{\"op\":\"submit\",\"draft\":"u8.ToArray(), stop);
                    Count(answer?.Contains("bad_request", StringComparison.Ordinal) == true ? "bad_request answered" : "garbage line: unexpected answer");
                }
                break;
        }
    }

    /// <summary>Connects a bare socket, writes <paramref name="line"/> (if any), waits <paramref name="linger"/> and closes.</summary>
    private async Task RawAsync(string? line, TimeSpan linger, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(host.Socket), stop);
        if (line is not null)
        {
            Interlocked.Increment(ref _requests);
            await socket.SendAsync(Encoding.UTF8.GetBytes(line), SocketFlags.None, stop);
        }
        if (linger > TimeSpan.Zero) await Task.Delay(linger, stop);
    }

    /// <summary>What dashboards and humans ask: lists, pages, reports, gets, pings; a fresh connection now and then.</summary>
    private async Task ReaderAsync(Random random, CancellationToken stop)
    {
        await using var client = await host.ConnectAsync();
        for (var i = 0; i < 30 && !stop.IsCancellationRequested; i++)
        {
            await Task.Delay(random.Next(500, 1500), stop);
            switch (random.Next(7))
            {
                case 0:
                    await Call(client, c => c.ListAsync(limit: 50, cancellationToken: stop), "list");
                    break;
                case 1:
                    await Call(client, c => c.ListAsync(state: "carded", limit: 50, cancellationToken: stop), "list carded");
                    break;
                case 2:
                    var first = await Call(client, c => c.ListAsync(limit: 20, cancellationToken: stop), "list");
                    if (first.NextBefore is { } before)
                    {
                        await Call(client, c => c.ListPageAsync(new ListRequest { Limit = 20, Before = before }, stop), "list next page");
                    }
                    break;
                case 3:
                    await Call(client, c => c.ReportAsync("orphans", stop), "report orphans");
                    break;
                case 4:
                    await Call(client, c => c.ReportAsync("stale", stop), "report stale");
                    break;
                case 5:
                    if (RecentId(random) is { } id) await Call(client, c => c.GetAsync(id, stop), "get");
                    break;
                default:
                    await Call(client, c => c.PingAsync(stop), "ping");
                    break;
            }
        }
    }

    /// <summary>The pull route's agent: claims, then completes most, fails some (retryable or not) and lets some leases expire.</summary>
    private async Task PullWorkerAsync(Random random, CancellationToken stop)
    {
        await using var client = await host.ConnectAsync();
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(random.Next(500, 1000), stop);
            var claim = await Call(client, c => c.ClaimAsync(PostKind, 5, 5, stop), "claim");
            foreach (var draft in claim.Claimed ?? [])
            {
                switch (random.NextDouble())
                {
                    case < 0.72:
                        await Call(client, c => c.CompleteAsync(draft.Id, draft.Lease, "https://x.example/posted/" + draft.Id, stop), "complete");
                        break;
                    case < 0.84:
                        await Call(client, c => c.FailAsync(draft.Id, draft.Lease, "rate limited by the sink", retryable: true, stop), "fail (retryable)");
                        break;
                    case < 0.88:
                        await Call(client, c => c.FailAsync(draft.Id, draft.Lease, "the sink refused the post", retryable: false, stop), "fail (permanent)");
                        break;
                    default:
                        Count("lease left to expire");
                        break;
                }
            }
        }
    }

    /// <summary>
    /// The approver: every new message of the bot in the private chat is looked at once. Cards are decided (most at
    /// once, some late enough to be escalated as stale first, a few late enough for a reminder); escalations get Retry,
    /// Mark done or Discard; stray taps get Dismiss. Now and then a command, and a forged or malformed tap.
    /// </summary>
    private async Task ApproverAsync(Random random, CancellationToken stop)
    {
        var chat = Control.PrivateChatId;
        long scanned = Control.GetMessages(chat).Select(m => (long)m.MessageId).DefaultIfEmpty(0).Max();
        var due = new PriorityQueue<(int MessageId, string Data, string What, string? DraftId), DateTime>();
        var nextCommand = DateTime.UtcNow;
        while (!stop.IsCancellationRequested)
        {
            while (due.TryPeek(out var tap, out var at) && at <= DateTime.UtcNow)
            {
                due.Dequeue();
                if (tap.DraftId is not null) _undecided.TryRemove(tap.DraftId, out _);
                Press(tap.MessageId, tap.Data, tap.What, Control.ApproverId);
            }
            if (DateTime.UtcNow >= nextCommand)
            {
                nextCommand = DateTime.UtcNow.AddSeconds(random.Next(3, 6));
                ApproverExtras(random);
            }
            var wait = due.TryPeek(out _, out var next) ? next - DateTime.UtcNow : TimeSpan.FromMilliseconds(500);
            wait = TimeSpan.FromMilliseconds(Math.Clamp(wait.TotalMilliseconds, 10, 500));
            SentMessage message;
            try
            {
                message = await Control.WaitForMessageAsync(chat, scanned, _ => true, wait, stop);
            }
            catch (TimeoutException)
            {
                continue;
            }
            scanned = message.MessageId;
            var buttons = message.AllButtons.Select(b => b.CallbackData).OfType<string>().ToList();
            var approve = buttons.FirstOrDefault(d => d.StartsWith("a:", StringComparison.Ordinal));
            var reject = buttons.FirstOrDefault(d => d.StartsWith("r:", StringComparison.Ordinal));
            if (approve is not null && reject is not null)
            {
                Count("card");
                var (data, delay, what) = random.NextDouble() switch
                {
                    < 0.70 => (approve, random.Next(0, 1500), "approve"),
                    < 0.85 => (reject, random.Next(0, 1500), "reject"),
                    < 0.93 => (approve, random.Next(25_000, 45_000), "approve late (stale first)"),
                    < 0.96 => (reject, random.Next(25_000, 45_000), "reject late (stale first)"),
                    < 0.98 => (approve, random.Next(70_000, 100_000), "approve very late (reminded)"),
                    _ => (approve, random.Next(240_000, 360_000), "approve after a break"),
                };
                var draftId = delay > 200_000 ? DraftIdIn(message) : null;
                if (draftId is not null) _undecided[draftId] = 0;
                due.Enqueue((message.MessageId, data, what, draftId), DateTime.UtcNow.AddMilliseconds(delay));
                continue;
            }
            // An escalation: one or more gaps, each with its buttons (their data names the draft's seq).
            foreach (var gap in buttons.GroupBy(d => d.Split(':')[1]))
            {
                var codes = gap.ToDictionary(d => d.Split(':')[0], StringComparer.Ordinal);
                var delay = DateTime.UtcNow.AddMilliseconds(random.Next(300, 3000));
                if (codes.TryGetValue("ex", out var dismiss))
                {
                    due.Enqueue((message.MessageId, dismiss, "dismiss stray tap", null), delay);
                }
                else if (codes.TryGetValue("em", out var markDone))
                {
                    // An unknown outcome: mostly marked done, sometimes retried or discarded.
                    var pick = random.NextDouble();
                    due.Enqueue(pick < 0.5 ? (message.MessageId, markDone, "mark done", null)
                        : pick < 0.8 && codes.TryGetValue("er", out var retry) ? (message.MessageId, retry, "retry unknown", null)
                        : (message.MessageId, codes.GetValueOrDefault("ed") ?? markDone, "discard unknown", null), delay);
                }
                else if (codes.TryGetValue("er", out var retryFailed))
                {
                    var discard = codes.GetValueOrDefault("ed");
                    due.Enqueue(random.Next(3) == 0 || discard is null ? (message.MessageId, retryFailed, "retry failed", null) : (message.MessageId, discard, "discard failed", null), delay);
                }
                else
                {
                    Count("escalation without an action taken");
                }
            }
        }
    }

    /// <summary>The draft id a card shows (the soak's ids carry the agent and a number).</summary>
    private static string? DraftIdIn(SentMessage card) =>
        System.Text.RegularExpressions.Regex.Match(card.Text ?? card.Caption ?? "", @"\b(reply|dm|post):soak\d+:\d+:(ok|fail|slow)\b") is { Success: true } m ? m.Value : null;

    private void Press(int messageId, string data, string what, long from)
    {
        try
        {
            Control.PressButton(messageId, data, from);
            Count("tap: " + what);
        }
        catch (InvalidOperationException)
        {
            // The button is gone (the message was edited meanwhile).
            Count("tap: button gone");
        }
    }

    /// <summary>Commands, and taps no card offers: a draft not in the store, and data that is not ours at all.</summary>
    private void ApproverExtras(Random random)
    {
        switch (random.Next(8))
        {
            case 0: Control.SendUserMessage("/pending"); break;
            case 1: Control.SendUserMessage("/orphans"); break;
            case 2: Control.SendUserMessage("/stale"); break;
            case 3: Control.SendUserMessage("/help"); break;
            case 4: Control.SendUserMessage("/status " + (RecentId(random) ?? "reply:none")); break;
            case 5:
                if (LastCard() is { } card)
                {
                    Control.PressButton(card.MessageId, $"a:{random.Next(1_000_000, 9_000_000)}:0123456789abcdef", requireButton: false);
                    Count("tap: unknown draft");
                }
                break;
            case 6:
                if (LastCard() is { } other)
                {
                    Control.PressButton(other.MessageId, "zz:not-ours", requireButton: false);
                    Count("tap: malformed");
                }
                break;
            default:
                Control.SendUserMessage("just a note, not a command");
                break;
        }
        Count("approver command or stray tap");
    }

    private SentMessage? LastCard() => Control.GetMessages(Control.PrivateChatId).LastOrDefault(m => m.AllButtons.Any());

    /// <summary>Someone who is not an approver: messages, commands and a press on a card.</summary>
    private async Task StrangerAsync(Random random, CancellationToken stop)
    {
        await Task.Delay(random.Next(2000, 4000), stop);
        var stranger = Control.StrangerId;
        switch (random.Next(4))
        {
            case 0: Control.SendUserMessage("/pending", stranger); break;
            case 1: Control.SendUserMessage("/start", stranger); break;
            case 2: Control.SendUserMessage("hello bot, approve my stuff", stranger); break;
            default:
                if (LastCard() is { } card && card.AllButtons.FirstOrDefault()?.CallbackData is { } data)
                {
                    Press(card.MessageId, data, "stranger", stranger);
                }
                break;
        }
        Count("stranger");
    }
}
