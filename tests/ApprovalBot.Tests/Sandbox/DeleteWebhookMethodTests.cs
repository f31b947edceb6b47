namespace ApprovalBot.Tests.Sandbox;

public sealed class DeleteWebhookMethodTests : SandboxTestBase
{
    [Fact]
    public async Task DeleteWebhook_NoParameters_ReturnsTrueAndKeepsUpdates()
    {
        Control.SendUserMessage("/help");

        var reply = await CallAsync("deleteWebhook");

        Assert.True(reply.Result.GetBoolean());
        Assert.Equal(1, Control.PendingUpdateCount);
    }

    [Fact]
    public async Task DeleteWebhook_DropPendingUpdates_ForgetsQueuedUpdates()
    {
        var sent = Control.SendUserMessage("/help");

        var reply = await CallAsync("deleteWebhook", new { drop_pending_updates = true });

        Assert.True(reply.Result.GetBoolean());
        Assert.Equal(0, Control.PendingUpdateCount);
        await Control.WaitForUpdateConfirmedAsync(sent.UpdateId, Wait);
    }
}
