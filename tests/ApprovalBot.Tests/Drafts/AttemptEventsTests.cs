using ApprovalBot.Drafts;

namespace ApprovalBot.Tests.Drafts;

public sealed class AttemptEventsTests
{
    [Theory]
    [InlineData("""{"attempt":1,"may_have_taken_effect":true}""", true)]
    [InlineData("""{"attempt":1,"may_have_taken_effect":false}""", false)]
    [InlineData("""{"attempt":1}""", false)]
    [InlineData("""{"may_have_taken_effect":"true"}""", false)]
    [InlineData("""[{"may_have_taken_effect":true}]""", false)]
    [InlineData("not json", false)]
    [InlineData(null, false)]
    public void SaysMayHaveTakenEffect_OnlyAnExplicitTrue(string? details, bool expected) =>
        Assert.Equal(expected, AttemptEvents.SaysMayHaveTakenEffect(details));
}
