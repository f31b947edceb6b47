namespace ApprovalBot.Tests.Sandbox;

public sealed class HumanPageTests : SandboxTestBase
{
    [Fact]
    public async Task Root_Get_ServesHtmlForThePrivateChat()
    {
        using var response = await Http.GetAsync("/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"const chatId = {ChatId};", html, StringComparison.Ordinal);
        Assert.Contains("/sandbox/press", html, StringComparison.Ordinal);
        Assert.Contains("/sandbox/send", html, StringComparison.Ordinal);
        Assert.DoesNotContain(Server.Token, html, StringComparison.Ordinal);
    }
}
