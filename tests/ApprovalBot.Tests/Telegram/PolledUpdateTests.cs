using System.Text.Json;
using ApprovalBot.Telegram.Updates;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// Reading one raw update of a getUpdates batch. A key given twice anywhere in an update was read last-value-wins (a
/// second "data" or "from" believed over the first): refused as malformed, naming the key and where, with the offset
/// still moving past it, since its update_id is plain. Telegram sends no such update; the updates it does send read whole.
/// UpdatePollerTests sends such updates through the sandbox to the running poller; these rows are the reading alone.
/// </summary>
public sealed class PolledUpdateTests
{
    private const string Approver = """{"id":1001,"is_bot":false,"first_name":"A"}""";
    private const string Stranger = """{"id":666,"is_bot":false,"first_name":"S"}""";
    private const string Chat = """{"id":1001,"type":"private","first_name":"A"}""";
    private const string Card = """{"message_id":5,"date":1700000000,"chat":""" + Chat + "}";

    public static TheoryData<string, string, string> KeyTwice => new()
    {
        {
            "two data in a press",
            """{"update_id":7,"callback_query":{"id":"q","from":""" + Approver + ""","message":""" + Card + ""","chat_instance":"1","data":"v1:reject","data":"v1:approve"}}""",
            "duplicate field 'data' in $.callback_query"
        },
        {
            "two from in a press",
            """{"update_id":7,"callback_query":{"id":"q","from":""" + Stranger + ""","from":""" + Approver + ""","message":""" + Card + ""","chat_instance":"1","data":"d"}}""",
            "duplicate field 'from' in $.callback_query"
        },
        {
            "two ids in the press's user",
            """{"update_id":7,"callback_query":{"id":"q","from":{"id":666,"id":1001,"is_bot":false,"first_name":"A"},"message":""" + Card + ""","chat_instance":"1","data":"d"}}""",
            "duplicate field 'id' in $.callback_query.from"
        },
        {
            "a key the bot does not read, twice, in the chat",
            """{"update_id":7,"message":{"message_id":5,"date":0,"from":""" + Approver + ""","chat":{"id":1001,"type":"private","title":"a","title":"b"},"text":"/help"}}""",
            "duplicate field 'title' in $.message.chat"
        },
        {
            "two texts in a command",
            """{"update_id":7,"message":{"message_id":5,"date":0,"from":""" + Approver + ""","chat":""" + Chat + ""","text":"/x","text":"/help"}}""",
            "duplicate field 'text' in $.message"
        },
        {
            "two messages in an update",
            """{"update_id":7,"message":{"message_id":5,"date":0,"from":""" + Stranger + ""","chat":""" + Chat + ""","text":"/x"},"message":{"message_id":6,"date":0,"from":""" + Approver + ""","chat":""" + Chat + ""","text":"/help"}}""",
            "duplicate field 'message' in $"
        },
        {
            "a key twice in an update type the bot does not take",
            """{"update_id":7,"poll":{"id":"p","options":[{"text":"a","text":"b"}]}}""",
            "duplicate field 'text' in $.poll.options[0]"
        },
    };

    [Theory]
    [MemberData(nameof(KeyTwice))]
    public void Read_KeyTwice_MalformedNamingTheKeyAndConfirmedByTheNextOffset(string scenario, string json, string reason)
    {
        var polled = PolledUpdate.Read(JsonElement.Parse(json));

        Assert.True(polled.Update is null, scenario);
        Assert.Equal(reason, polled.Malformed);
        Assert.Equal(8, polled.ConfirmedBy);
    }

    [Theory]
    [InlineData("""{"update_id":7,"update_id":9,"message":{"message_id":5,"date":0,"from":APPROVER,"chat":CHAT,"text":"/help"}}""")]
    // Another key twice before it in the document: found first, it hid the doubled id, and 9 was confirmed.
    [InlineData("""{"message":{"message_id":5,"date":0,"from":APPROVER,"chat":CHAT,"text":"/help","text":"/pending"},"update_id":7,"update_id":9}""")]
    public void Read_UpdateIdTwice_MalformedWithoutAnIdAndNotConfirmed(string json)
    {
        var polled = PolledUpdate.Read(JsonElement.Parse(json.Replace("APPROVER", Approver, StringComparison.Ordinal).Replace("CHAT", Chat, StringComparison.Ordinal)));

        Assert.Null(polled.Update);
        Assert.Equal("duplicate field 'update_id' in $", polled.Malformed);
        Assert.Null(polled.ConfirmedBy);
    }

    /// <summary>Updates as the Bot API sends them, keys and all: none is refused.</summary>
    [Theory]
    [InlineData("""{"update_id":7,"callback_query":{"id":"4382","from":{"id":1001,"is_bot":false,"first_name":"A","last_name":"B","username":"ab","language_code":"en"},"message":{"message_id":5,"from":{"id":42,"is_bot":true,"first_name":"Bot","username":"the_bot"},"chat":{"id":1001,"first_name":"A","last_name":"B","username":"ab","type":"private"},"date":1700000000,"text":"card","entities":[{"offset":0,"length":4,"type":"bold"}],"reply_markup":{"inline_keyboard":[[{"text":"Approve","callback_data":"a"},{"text":"Reject","callback_data":"r"}]]}},"chat_instance":"-123","data":"a"}}""")]
    [InlineData("""{"update_id":7,"message":{"message_id":6,"from":{"id":1001,"is_bot":false,"first_name":"A"},"chat":{"id":-100123,"title":"Approvers","type":"supergroup"},"date":1700000000,"text":"/help@the_bot","entities":[{"offset":0,"length":13,"type":"bot_command"}]}}""")]
    [InlineData("""{"update_id":7,"my_chat_member":{"chat":{"id":-100123,"title":"Approvers","type":"supergroup"},"from":{"id":1001,"is_bot":false,"first_name":"A"},"date":1700000000,"old_chat_member":{"user":{"id":42,"is_bot":true,"first_name":"Bot","username":"the_bot"},"status":"member"},"new_chat_member":{"user":{"id":42,"is_bot":true,"first_name":"Bot","username":"the_bot"},"status":"left"}}}""")]
    public void Read_UpdateAsTelegramSendsIt_NotMalformed(string json)
    {
        var polled = PolledUpdate.Read(JsonElement.Parse(json));

        Assert.Null(polled.Malformed);
        Assert.NotNull(polled.Update);
        Assert.Equal(8, polled.ConfirmedBy);
    }
}
