using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Spec;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Tests.Sandbox;

public sealed class JsonShapeCheckerTests
{
    private static readonly JsonShapeChecker Checker = new(BotApiSpec.Instance);

    private const string Bot = """{"id":42,"is_bot":true,"first_name":"Bot","username":"the_bot"}""";

    /// <summary>
    /// ChatMember's kinds are told apart by their status, as Telegram does: a member is checked as the kind its status
    /// names, so one missing a field of that kind (a ban without until_date) or with an unknown status is refused, not
    /// taken for another kind whose fields it happens to fit.
    /// </summary>
    [Theory]
    [InlineData("""{"status":"member","user":BOT}""", null)]
    [InlineData("""{"status":"left","user":BOT}""", null)]
    [InlineData("""{"status":"kicked","user":BOT,"until_date":0}""", null)]
    [InlineData("""{"status":"kicked","user":BOT}""", "member.until_date is required in ChatMemberBanned")]
    [InlineData("""{"status":"restricted","user":BOT}""", "member.is_member is required in ChatMemberRestricted")]
    [InlineData("""{"status":"superuser","user":BOT}""", "member.status is not a valid ChatMember status")]
    [InlineData("""{"user":BOT}""", "member.status is not a valid ChatMember status")]
    public void Check_ChatMember_ResolvedByItsStatus(string json, string? error) =>
        Assert.Equal(error, Checker.Check(JsonNode.Parse(json.Replace("BOT", Bot, StringComparison.Ordinal)), ["ChatMember"], "member"));

    [Theory]
    [InlineData("""{"type":"default"}""", null)]
    [InlineData("""{"type":"chat"}""", "scope.chat_id is required in BotCommandScopeChat")]
    [InlineData("""{"type":"nowhere"}""", "scope.type is not a valid BotCommandScope type")]
    public void Check_UnionByType_StillResolvedByItsType(string json, string? error) =>
        Assert.Equal(error, Checker.Check(JsonNode.Parse(json), ["BotCommandScope"], "scope"));
}
