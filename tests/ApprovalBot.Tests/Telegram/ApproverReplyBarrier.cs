using ApprovalBot.Sandbox;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// For tests that assert a command got no reply. A confirmed update says nothing about its reply: an approver's is queued
/// (ApproverReplies) and sent after the update is confirmed, any other is sent, or dropped, while it is handled. Updates are
/// handled one at a time and approvers' replies go out in order, so once the reply to a later approver command is in the
/// approvers' chat, every reply to the updates before it is out, by either path.
/// </summary>
internal static class ApproverReplyBarrier
{
    private static int _next;

    public static async Task AllRepliesSentAsync(this SandboxControl control, long approversChatId)
    {
        var key = "reply:barrier-" + Interlocked.Increment(ref _next).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var sent = control.SendUserMessage("/status " + key, control.ApproverId, approversChatId);
        await control.WaitForMessageAsync(
            approversChatId, sent.MessageId, m => m.Text?.StartsWith($"No draft {key} ", StringComparison.Ordinal) == true, TelegramHarness.Wait);
    }
}
