using ApprovalBot.Telegram;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Tests.Telegram;

public sealed class SandboxOptionsValidatorTests
{
    [Theory]
    [InlineData("http://127.0.0.1:5780", false)]
    [InlineData("http://127.0.0.1:0", false)]
    [InlineData("http://127.0.0.2:5780", false)]
    [InlineData("http://localhost:5780", false)]
    [InlineData("http://LOCALHOST:5780", false)]
    [InlineData("http://[::1]:5780", false)]
    [InlineData("http://0.0.0.0:5780", true)]
    [InlineData("http://192.168.1.10:5780", true)]
    [InlineData("http://[::]:5780", true)]
    [InlineData("http://example.com:5780", true)]
    public void Validate_HttpUrl_LoopbackOrExplicitOptIn(string url, bool remote)
    {
        var validator = new SandboxOptionsValidator();

        var plain = validator.Validate(null, new SandboxOptions { Url = url });
        var optedIn = validator.Validate(null, new SandboxOptions { Url = url, AllowRemote = true });

        Assert.Equal(remote, plain.Failed);
        Assert.True(optedIn.Succeeded, url);
        if (remote)
        {
            var failure = Assert.Single(plain.Failures!);
            Assert.StartsWith("ApprovalBot:Sandbox:Url must be a loopback address", failure, StringComparison.Ordinal);
            Assert.Contains("ApprovalBot:Sandbox:AllowRemote=true", failure, StringComparison.Ordinal);
            Assert.Contains($"got '{url}'", failure, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("https://127.0.0.1:5780")]
    [InlineData("127.0.0.1:5780")]
    [InlineData("not a url")]
    [InlineData("")]
    public void Validate_NotAnHttpUrl_FailsEvenWithOptIn(string url)
    {
        var result = new SandboxOptionsValidator().Validate(null, new SandboxOptions { Url = url, AllowRemote = true });

        Assert.True(result.Failed, url);
        Assert.StartsWith("ApprovalBot:Sandbox:Url must be an http URL", Assert.Single(result.Failures!), StringComparison.Ordinal);
    }

    /// <summary>
    /// What the sandbox could not listen on as given (a path, a query, a fragment, user info) or would take another port
    /// than the operator thinks (none given: 80): refused naming the key and the URL, even with AllowRemote.
    /// </summary>
    [Theory]
    [InlineData("http://127.0.0.1:5780/sandbox", "a path")]
    [InlineData("http://127.0.0.1:5780/?x=1", "a query")]
    [InlineData("http://127.0.0.1:5780/#top", "a fragment")]
    [InlineData("http://user:pw@127.0.0.1:5780", "user info")]
    [InlineData("http://127.0.0.1", "no port")]
    [InlineData("http://localhost/", "no port")]
    public void Validate_UrlWithMoreOrLessThanAnAddressAndPort_RefusedNamingWhat(string url, string what)
    {
        var result = new SandboxOptionsValidator().Validate(null, new SandboxOptions { Url = url, AllowRemote = true });

        Assert.True(result.Failed, url);
        Assert.Equal($"ApprovalBot:Sandbox:Url must be http://<address>:<port> and nothing more, such as http://127.0.0.1:5780 (port 0 picks a free one); '{url}' has {what}.",
            Assert.Single(result.Failures!));
    }

    [Theory]
    [InlineData("http://127.0.0.1:5780/")]
    [InlineData("http://[::1]:0")]
    public void Validate_AddressAndPortWithOrWithoutTheSlash_Pass(string url) =>
        Assert.True(new SandboxOptionsValidator().Validate(null, new SandboxOptions { Url = url }).Succeeded, url);

    [Fact]
    public async Task Start_NoTokenAndSandboxOnAllInterfaces_HostRefusesNamingTheKey()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestHost.StartAsync(
            settings: ["ApprovalBot:Sandbox:Url=http://0.0.0.0:0"],
            compose: b => b.AddTelegram()));

        Assert.Contains("ApprovalBot:Sandbox:Url must be a loopback address", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ApprovalBot:Sandbox:AllowRemote", ex.Message, StringComparison.Ordinal);
    }
}
