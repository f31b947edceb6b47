using ApprovalBot.Drafts;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Drafts;

public sealed class StoreOptionsValidatorTests
{
    [Fact]
    public void Validate_Defaults_Pass() => Assert.Empty(BoundOptions.Errors(new StoreOptionsValidator(), StoreOptions.Section));

    /// <summary>Each value just outside the README's range, and each data directory that names no folder: one message naming the key and the value.</summary>
    [Theory]
    [InlineData("DataDirectory=", "ApprovalBot:DataDirectory must name a folder (got '').")]
    [InlineData("DataDirectory=  ", "ApprovalBot:DataDirectory must name a folder (got '  ').")]
    [InlineData("DataDirectory=a\0b", "ApprovalBot:DataDirectory is not a valid path: it holds a NUL character (\\0).")]
    [InlineData("MaxBatch=0", "ApprovalBot:MaxBatch must be between 1 and 10000 (got 0).")]
    [InlineData("MaxBatch=10001", "ApprovalBot:MaxBatch must be between 1 and 10000 (got 10001).")]
    [InlineData("BusyTimeoutMs=-1", "ApprovalBot:BusyTimeoutMs must be between 0 and 600000 (got -1).")]
    [InlineData("BusyTimeoutMs=600001", "ApprovalBot:BusyTimeoutMs must be between 0 and 600000 (got 600001).")]
    public void Validate_BadValue_OneErrorNamingTheKey(string setting, string expected) =>
        Assert.Equal([expected], BoundOptions.Errors(new StoreOptionsValidator(), StoreOptions.Section, setting));

    [Theory]
    [InlineData("MaxBatch=1")]
    [InlineData("MaxBatch=10000")]
    [InlineData("BusyTimeoutMs=0")]
    [InlineData("BusyTimeoutMs=600000")]
    [InlineData("DataDirectory=/var/lib/approvalbot")]
    public void Validate_RangeEnds_Pass(string setting) => Assert.Empty(BoundOptions.Errors(new StoreOptionsValidator(), StoreOptions.Section, setting));
}
