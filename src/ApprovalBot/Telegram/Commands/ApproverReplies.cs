using System.Threading.Channels;
using ApprovalBot.Hosting;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Commands;

/// <summary>
/// The replies to approvers' commands in the approvers' chat, sent one after another, in the order the commands were
/// handled, by a loop of their own that waits for each reply's send slot and resends after 429 or a failure. The update
/// poller handles one update at a time: a reply it awaited waited for the group's slot (20 messages a minute), so after
/// a burst of cards an approver's /pending held every tap behind it for up to a minute. The poller now only queues the
/// reply. The queue is in memory and bounded (<see cref="Capacity"/>): only when that many replies wait does the poller
/// wait for room, as it used to wait for a slot. A reply is not state: one still queued when the service stops is not
/// sent (the command's update is confirmed already, and is not handled again); how many is logged.
/// </summary>
internal sealed partial class ApproverReplies(TelegramBotClient client, ILogger<ApproverReplies> logger) : HostLoop
{
    public const int Capacity = 64;

    private readonly Channel<Reply> _queue = Channel.CreateBounded<Reply>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>Queues a reply; waits only while the queue is full. After the loop has stopped, the reply is logged as not sent.</summary>
    public async Task EnqueueAsync(long chatId, string html, string? fullReplyHint, CancellationToken cancellationToken)
    {
        var reply = new Reply(chatId, html, fullReplyHint);
        if (_queue.Writer.TryWrite(reply))
        {
            return;
        }
        try
        {
            LogQueueFull(Capacity);
            await _queue.Writer.WriteAsync(reply, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            LogNotSentOnStop(1);
        }
    }

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        var unsent = 0;
        try
        {
            await foreach (var reply in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                unsent = 1;
                await SendAsync(reply.ChatId, reply.Html, reply.FullReplyHint, stoppingToken).ConfigureAwait(false);
                unsent = 0;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _queue.Writer.TryComplete();
            while (_queue.Reader.TryRead(out _))
            {
                unsent++;
            }
            if (unsent > 0)
            {
                LogNotSentOnStop(unsent);
            }
        }
    }

    private async Task SendAsync(long chatId, string html, string? fullReplyHint, CancellationToken cancellationToken)
    {
        try
        {
            await client.SendReply(CommandRouter.Reply(chatId, html), cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 400 && ex.Description.Contains("too long", StringComparison.OrdinalIgnoreCase))
        {
            // A command's reply outgrew one message; say so rather than stay silent.
            LogReplyFailed(ex, chatId);
            await SendAsync(chatId, "⚠️ The reply is too long for one Telegram message" + (fullReplyHint is null ? "." : "; " + fullReplyHint + "."), null, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (ApiRequestException ex)
        {
            LogReplyFailed(ex, chatId);
        }
    }

    private sealed record Reply(long ChatId, string Html, string? FullReplyHint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not reply in chat {ChatId}")]
    private partial void LogReplyFailed(Exception ex, long chatId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} approvers' command replies are waiting for a send slot; the next command waits for room among them")]
    private partial void LogQueueFull(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} reply(ies) to approvers' commands not sent: the service stopped first (their commands were handled)")]
    private partial void LogNotSentOnStop(int count);
}
