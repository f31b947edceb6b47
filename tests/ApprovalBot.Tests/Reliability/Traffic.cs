using System.Collections.Concurrent;
using System.Text;
using ApprovalBot.Client;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// What the outside world saw, kept in the test process so it survives every kill of the host: each receipt an
/// agent received, each submit whose answer was lost (sent again after the restart), each button press.
/// </summary>
internal sealed class Traffic
{
    private readonly object _gate = new();
    private readonly ConcurrentDictionary<string, Receipt> _receipts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _unanswered = new(StringComparer.Ordinal);
    private readonly List<Press> _presses = [];
    private readonly HashSet<int> _pressedMessages = [];
    private readonly Dictionary<long, bool> _choice = [];
    private int _nextDraft;

    public IReadOnlyDictionary<string, Receipt> Receipts => _receipts;

    public int Submits;
    public int ResentAfterKill;
    public int SubmitErrors;
    public int DuplicateCardsSeen;

    public IReadOnlyList<Press> Presses
    {
        get
        {
            lock (_gate)
            {
                return [.. _presses];
            }
        }
    }

    public int UnansweredCount => _unanswered.Count;

    /// <summary>One agent: submits drafts over its own connection until the host dies or <paramref name="ct"/> ends.</summary>
    public async Task AgentAsync(HostProcess host, int agent, string[] kinds, int seed, CancellationToken ct, bool resendOnly = false)
    {
        var random = new Random(seed);
        PipeClient? client = null;
        try
        {
            client = await host.ConnectAsync();
            // First the submits whose answer the last kill swallowed: the same id and text, as an agent retries.
            foreach (var (id, text) in TakeUnanswered(agent))
            {
                if (!await SubmitAsync(client, id, text, agent, ct))
                {
                    return;
                }
                Interlocked.Increment(ref ResentAfterKill);
            }
            if (resendOnly)
            {
                return;
            }
            while (!ct.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref _nextDraft);
                var kind = kinds[random.Next(kinds.Length)];
                var id = $"{kind}:agent{agent}:{n}";
                if (!await SubmitAsync(client, id, Text(random, id), agent, ct))
                {
                    return;
                }
                // An agent's pace, not a synchronisation: a few drafts a second each, so the approver and the
                // executor keep up and kills land on every step, not only on a backlog.
                await Task.Delay(random.Next(20, 300), ct);
            }
        }
        catch (Exception ex) when (ex is IOException or TimeoutException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            // The host died under us (or never answered before the kill): what was not answered is resent later.
        }
        finally
        {
            if (client is not null)
            {
                try
                {
                    await client.DisposeAsync();
                }
                catch (IOException)
                {
                }
            }
        }
    }

    /// <summary>False when the connection is gone; the submit is then remembered as unanswered.</summary>
    private async Task<bool> SubmitAsync(PipeClient client, string id, string text, int agent, CancellationToken ct)
    {
        _unanswered[id] = agent + "\n" + text;
        Response response;
        try
        {
            response = await client.SubmitAsync(new DraftSubmission { Id = id, Kind = id[..id.IndexOf(':')], Agent = "agent" + agent, Text = text }, ct);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
        Interlocked.Increment(ref Submits);
        if (!response.Ok)
        {
            // unavailable is allowed (nothing stored, the agent retries); anything else is a finding.
            Interlocked.Increment(ref SubmitErrors);
            Assert.True(response.Error?.Code == ErrorCodes.Unavailable, $"submit {id}: {response.Error}");
            return true;
        }
        _unanswered.TryRemove(id, out _);
        var receipt = response.Receipt!;
        Assert.Equal(id, receipt.Id);
        Assert.Equal(Sha.Hex(text), receipt.Sha256);
        _receipts.AddOrUpdate(id, receipt, (_, earlier) =>
        {
            Assert.Equal(earlier.Sha256, receipt.Sha256);
            return earlier;
        });
        return true;
    }

    private List<(string Id, string Text)> TakeUnanswered(int agent)
    {
        var mine = new List<(string, string)>();
        foreach (var (id, value) in _unanswered)
        {
            var cut = value.IndexOf('\n', StringComparison.Ordinal);
            if (value[..cut] == agent.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                mine.Add((id, value[(cut + 1)..]));
            }
        }
        return mine;
    }

    private static readonly string[] Words = ["ship", "it", "thanks", "<b>bold?</b>", "a & b", "naïve", "日本語", "🚀", "\"quoted\"", "$(rm -rf /)", "line\nbreak"];

    private static string Text(Random random, string id)
    {
        var text = new StringBuilder("Draft ").Append(id).Append(':');
        var words = random.Next(1, 30);
        for (var i = 0; i < words; i++)
        {
            text.Append(' ').Append(Words[random.Next(Words.Length)]);
        }
        return text.ToString();
    }

    /// <summary>
    /// The approver: presses Approve or Reject on every card that shows the buttons, once per message. A card
    /// that arrives twice (a lost sendMessage answer, or a kill before the card was recorded) is pressed on both
    /// copies: usually the same choice, sometimes the other one, and the first stored decision must win.
    /// </summary>
    public async Task ApproverAsync(SandboxControl control, int seed, CancellationToken ct)
    {
        var random = new Random(seed);
        // Cards come in message-id order, and a card without decision buttons (decided, or a document) never gets them
        // back: everything before the last card found has been looked at for good.
        long scanned = 0;
        while (!ct.IsCancellationRequested)
        {
            SentMessage card;
            try
            {
                card = await control.WaitForMessageAsync(control.PrivateChatId, scanned, m => DecisionButtons(m) is not null && !Pressed(m.MessageId), TimeSpan.FromMilliseconds(300), ct);
                scanned = card.MessageId - 1;
            }
            catch (TimeoutException)
            {
                continue;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (DecisionButtons(card) is not { } buttons)
            {
                continue;
            }
            var seq = long.Parse(buttons.Approve.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
            bool approve;
            lock (_gate)
            {
                _pressedMessages.Add(card.MessageId);
                if (_choice.TryGetValue(seq, out var first))
                {
                    DuplicateCardsSeen++;
                    approve = random.Next(5) == 0 ? !first : first;
                }
                else
                {
                    approve = random.Next(4) != 0;
                    _choice[seq] = approve;
                }
            }
            var data = approve ? buttons.Approve : buttons.Reject;
            PressedButton pressed;
            try
            {
                pressed = control.PressButton(card.MessageId, data);
            }
            catch (InvalidOperationException)
            {
                continue; // the card was closed between seeing it and pressing: nothing was sent
            }
            lock (_gate)
            {
                _presses.Add(new Press(pressed.QueryId, pressed.UpdateId, card.MessageId, seq, approve ? "approved" : "rejected"));
            }
        }
    }

    private bool Pressed(int messageId)
    {
        lock (_gate)
        {
            return _pressedMessages.Contains(messageId);
        }
    }

    private static (string Approve, string Reject)? DecisionButtons(SentMessage m)
    {
        var buttons = m.AllButtons.Select(b => b.CallbackData).OfType<string>().ToList();
        var approve = buttons.FirstOrDefault(d => d.StartsWith("a:", StringComparison.Ordinal));
        var reject = buttons.FirstOrDefault(d => d.StartsWith("r:", StringComparison.Ordinal));
        return approve is null || reject is null ? null : (approve, reject);
    }

    internal sealed record Press(string QueryId, long UpdateId, int MessageId, long Seq, string Decision);
}
