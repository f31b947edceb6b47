using System.Text;
using ApprovalBot.Client;
using ApprovalBot.Execution;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Pipe;

/// <summary>The bad-input table of the pipe boundary, sent over the real socket to the real host.</summary>
public sealed class PipeDispatcherTests : IAsyncLifetime
{
    private TestHost _host = null!;

    public async Task InitializeAsync() => _host = await TestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private const string Valid = """{"id":"reply:a:1","kind":"reply","agent":"engager","text":"hello"}""";

    public static TheoryData<string, string, string, string?> BadRequests => new()
    {
        // name, request line, expected code, expected field
        { "not JSON", "this is not json", ErrorCodes.BadRequest, null },
        { "truncated JSON", """{"op":"submit","draft":""", ErrorCodes.BadRequest, null },
        { "not an object: array", """[{"op":"ping"}]""", ErrorCodes.BadRequest, null },
        { "not an object: string", "\"submit\"", ErrorCodes.BadRequest, null },
        { "not an object: number", "42", ErrorCodes.BadRequest, null },
        { "missing op", """{"draft":{}}""", ErrorCodes.Invalid, "op" },
        { "op of wrong type", """{"op":7}""", ErrorCodes.Invalid, "op" },
        { "unknown op", """{"op":"delete","id":"x"}""", ErrorCodes.UnknownOp, "op" },
        { "unknown field at top", """{"op":"submit","draft":""" + Valid + ""","priority":1}""", ErrorCodes.Invalid, "priority" },
        { "unknown field in draft", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","color":"red"}}""", ErrorCodes.Invalid, "draft.color" },
        { "missing draft", """{"op":"submit"}""", ErrorCodes.Invalid, "draft" },
        { "missing text", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e"}}""", ErrorCodes.Invalid, "draft.text" },
        { "missing id", """{"op":"submit","draft":{"kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id" },
        { "text of wrong type", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":42}}""", ErrorCodes.Invalid, "draft.text" },
        { "text null", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":null}}""", ErrorCodes.Invalid, "draft.text" },
        { "draft of wrong type", """{"op":"submit","draft":"hello"}""", ErrorCodes.Invalid, "draft" },
        { "empty text", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":""}}""", ErrorCodes.Invalid, "draft.text" },
        { "blank text", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"   "}}""", ErrorCodes.Invalid, "draft.text" },
        { "empty agent", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"","text":"t"}}""", ErrorCodes.Invalid, "draft.agent" },
        { "text too long for the kind", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":""" + "\"" + new string('x', 281) + "\"" + "}}", ErrorCodes.Invalid, "draft.text" },
        { "unknown kind", """{"op":"submit","draft":{"id":"reply:a:1","kind":"tweetstorm","agent":"e","text":"t"}}""", ErrorCodes.UnknownKind, "draft.kind" },
        { "illegal id: space", """{"op":"submit","draft":{"id":"reply a","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id" },
        { "illegal id: empty", """{"op":"submit","draft":{"id":"","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id" },
        { "illegal id: 201 chars", """{"op":"submit","draft":{"id":""" + "\"" + new string('a', 201) + "\"" + ""","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id" },
        // .NET's `$` also matches before a final "\n": the id check must anchor at the very end.
        { "illegal id: trailing newline", """{"op":"submit","draft":{"id":"reply:a\n","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id" },
        { "illegal id: trailing CRLF", """{"op":"submit","draft":{"id":"reply:a\r\n","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id" },
        { "illegal id: 200 chars and a newline", """{"op":"submit","draft":{"id":""" + "\"" + new string('a', 200) + "\\n\"" + ""","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id" },
        { "illegal id: quote and angle", """{"op":"submit","draft":{"id":"a<b>\"","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id" },
        { "context not an object", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":[1,2]}}""", ErrorCodes.Invalid, "draft.context" },
        { "context too large", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":{"rationale":""" + "\"" + new string('r', 20_000) + "\"" + "}}}", ErrorCodes.Invalid, "draft.context" },
        // A context is stored as received: a name twice would leave which value counts to whoever reads it.
        { "context duplicate name", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":{"rationale":"a","rationale":"b"}}}""", ErrorCodes.Invalid, "draft.context" },
        { "context duplicate name nested", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":{"x":[{"a":1,"a":2}]}}}""", ErrorCodes.Invalid, "draft.context" },
        { "duplicate field", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","text":"u"}}""", ErrorCodes.Invalid, "draft.text" },
        { "wait timeout of wrong type", """{"op":"wait","id":"x","timeout_ms":"soon"}""", ErrorCodes.Invalid, "timeout_ms" },
        { "wait timeout out of range", """{"op":"wait","id":"x","timeout_ms":600001}""", ErrorCodes.Invalid, "timeout_ms" },
        { "wait until unknown value", """{"op":"wait","id":"x","until":"forever"}""", ErrorCodes.Invalid, "until" },
        { "list unknown state", """{"op":"list","state":"done"}""", ErrorCodes.Invalid, "state" },
        { "list limit zero", """{"op":"list","limit":0}""", ErrorCodes.Invalid, "limit" },
        { "list limit fractional", """{"op":"list","limit":1.5}""", ErrorCodes.Invalid, "limit" },
        { "get unknown id", """{"op":"get","id":"reply:none"}""", ErrorCodes.NotFound, "id" },
        { "ping with extra field", """{"op":"ping","x":1}""", ErrorCodes.Invalid, "x" },
        { "text with an unpaired surrogate escape", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"a\ud800b"}}""", ErrorCodes.Invalid, "draft.text" },
        { "op with an unpaired surrogate escape", """{"op":"\udc00"}""", ErrorCodes.Invalid, "op" },
        { "deep nesting", new string('[', 200) + new string(']', 200), ErrorCodes.BadRequest, null },
        // A BOM is no part of a JSON text (RFC 8259 forbids sending one); one line is one request.
        { "BOM before the object", "\uFEFF{\"op\":\"ping\"}", ErrorCodes.BadRequest, null },
        { "trailing garbage", """{"op":"ping"} x""", ErrorCodes.BadRequest, null },
        { "two objects on one line", """{"op":"ping"}{"op":"ping"}""", ErrorCodes.BadRequest, null },
        { "op empty", """{"op":""}""", ErrorCodes.UnknownOp, "op" },
        // Ops are named in lower case only.
        { "op upper case", """{"op":"PING"}""", ErrorCodes.UnknownOp, "op" },
        { "op an object", """{"op":{"x":1}}""", ErrorCodes.Invalid, "op" },
        { "list limit above the range", """{"op":"list","limit":1001}""", ErrorCodes.Invalid, "limit" },
        { "list before zero", """{"op":"list","before":0}""", ErrorCodes.Invalid, "before" },
        { "list before fractional", """{"op":"list","before":10.5}""", ErrorCodes.Invalid, "before" },
        { "list before null with a bad limit", """{"op":"list","before":null,"limit":0}""", ErrorCodes.Invalid, "limit" },
        { "list before twice", """{"op":"list","before":5,"before":6}""", ErrorCodes.Invalid, "before" },
        // Nothing on a line is still a line: answered, so that an agent reading one answer per line it sends is not left waiting.
        { "empty line", "", ErrorCodes.BadRequest, null },
        { "line of only a carriage return", "\r", ErrorCodes.BadRequest, null },
        { "line of only spaces and tabs", " \t ", ErrorCodes.BadRequest, null },
        // A NUL byte as sent, not escaped: no JSON text holds one, in a string or between tokens.
        { "NUL byte in a string", "{\"op\":\"get\",\"id\":\"reply:a\0b\"}", ErrorCodes.BadRequest, null },
        { "NUL byte after the object", "{\"op\":\"ping\"}\0", ErrorCodes.BadRequest, null },
        { "NUL byte between tokens", "{\"op\":\0\"ping\"}", ErrorCodes.BadRequest, null },
        { "only a NUL byte", "\0", ErrorCodes.BadRequest, null },
        { "draft twice", """{"op":"submit","draft":""" + Valid + ""","draft":""" + Valid + "}", ErrorCodes.Invalid, "draft" },
        { "kind twice in the draft", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","kind":"post","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.kind" },
        { "get id twice", """{"op":"get","id":"reply:a:1","id":"reply:a:2"}""", ErrorCodes.Invalid, "id" },
        { "op twice with the same value", """{"op":"ping","op":"ping"}""", ErrorCodes.Invalid, "op" },
        { "wait timeout twice", """{"op":"wait","id":"x","timeout_ms":0,"timeout_ms":1}""", ErrorCodes.Invalid, "timeout_ms" },
        { "list kind twice", """{"op":"list","kind":"reply","kind":"post"}""", ErrorCodes.Invalid, "kind" },
        // An id no draft can have is not found, told without echoing all of it back.
        { "get id of 100000 characters", """{"op":"get","id":""" + "\"" + new string('a', 100_000) + "\"}", ErrorCodes.NotFound, "id" },
        { "wait id of 100000 characters", """{"op":"wait","id":""" + "\"" + new string('a', 100_000) + "\",\"timeout_ms\":0}", ErrorCodes.NotFound, "id" },
    };

    private const string NotValidUnicode = "not valid Unicode text (an unpaired surrogate escape)";
    private const string HoldsNotValidUnicode = "holds a name or string that is not valid Unicode text (an unpaired surrogate escape)";
    private const string NameNotValidUnicode = "has a field name that is not valid Unicode text (an unpaired surrogate escape)";

    /// <summary>Refusals whose message is the point: it names what the field takes, not only which field it is.</summary>
    public static TheoryData<string, string, string, string?, string> BadRequestMessages => new()
    {
        // name, request line, expected code, expected field, expected message
        { "id a number", """{"op":"submit","draft":{"id":5,"kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id", "wrong type: expected a string" },
        { "id an object", """{"op":"submit","draft":{"id":{"a":1},"kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id", "wrong type: expected a string" },
        { "text a number", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":42}}""", ErrorCodes.Invalid, "draft.text", "wrong type: expected a string" },
        { "agent true", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":true,"text":"t"}}""", ErrorCodes.Invalid, "draft.agent", "wrong type: expected a string" },
        { "draft an array", """{"op":"submit","draft":[]}""", ErrorCodes.Invalid, "draft", "wrong type: expected an object" },
        { "draft a string", """{"op":"submit","draft":"hello"}""", ErrorCodes.Invalid, "draft", "wrong type: expected an object" },
        { "get id a number", """{"op":"get","id":1}""", ErrorCodes.Invalid, "id", "wrong type: expected a string" },
        { "list state true", """{"op":"list","state":true}""", ErrorCodes.Invalid, "state", "wrong type: expected a string" },
        { "list limit a string", """{"op":"list","limit":"5"}""", ErrorCodes.Invalid, "limit", "wrong type: expected an integer between 1 and 1000" },
        { "list limit true", """{"op":"list","limit":true}""", ErrorCodes.Invalid, "limit", "wrong type: expected an integer between 1 and 1000" },
        { "list limit an object", """{"op":"list","limit":{}}""", ErrorCodes.Invalid, "limit", "wrong type: expected an integer between 1 and 1000" },
        { "list limit beyond an int", """{"op":"list","limit":99999999999}""", ErrorCodes.Invalid, "limit", "must be between 1 and 1000" },
        { "list limit below an int", """{"op":"list","limit":-99999999999}""", ErrorCodes.Invalid, "limit", "must be between 1 and 1000" },
        { "list limit 1e999999", """{"op":"list","limit":1e999999}""", ErrorCodes.Invalid, "limit", "must be an integer between 1 and 1000 (no fraction or exponent)" },
        { "list limit fractional", """{"op":"list","limit":1.5}""", ErrorCodes.Invalid, "limit", "must be an integer between 1 and 1000 (no fraction or exponent)" },
        { "list before a string", """{"op":"list","before":"5"}""", ErrorCodes.Invalid, "before", "wrong type: expected an integer between 1 and 9223372036854775807" },
        { "list before true", """{"op":"list","before":true}""", ErrorCodes.Invalid, "before", "wrong type: expected an integer between 1 and 9223372036854775807" },
        { "list before an array", """{"op":"list","before":[5]}""", ErrorCodes.Invalid, "before", "wrong type: expected an integer between 1 and 9223372036854775807" },
        { "list before zero", """{"op":"list","before":0}""", ErrorCodes.Invalid, "before", "must be between 1 and 9223372036854775807" },
        { "list before negative", """{"op":"list","before":-1}""", ErrorCodes.Invalid, "before", "must be between 1 and 9223372036854775807" },
        { "list before beyond a long", """{"op":"list","before":9223372036854775808}""", ErrorCodes.Invalid, "before", "must be between 1 and 9223372036854775807" },
        { "list before below a long", """{"op":"list","before":-9223372036854775809}""", ErrorCodes.Invalid, "before", "must be between 1 and 9223372036854775807" },
        { "list before fractional", """{"op":"list","before":10.5}""", ErrorCodes.Invalid, "before", "must be an integer between 1 and 9223372036854775807 (no fraction or exponent)" },
        { "list before 100.0", """{"op":"list","before":100.0}""", ErrorCodes.Invalid, "before", "must be an integer between 1 and 9223372036854775807 (no fraction or exponent)" },
        { "list before 1e3", """{"op":"list","before":1e3}""", ErrorCodes.Invalid, "before", "must be an integer between 1 and 9223372036854775807 (no fraction or exponent)" },
        { "wait timeout a string", """{"op":"wait","id":"x","timeout_ms":"soon"}""", ErrorCodes.Invalid, "timeout_ms", "wrong type: expected an integer between 0 and 600000" },
        { "wait timeout 1000.0", """{"op":"wait","id":"x","timeout_ms":1000.0}""", ErrorCodes.Invalid, "timeout_ms", "must be an integer between 0 and 600000 (no fraction or exponent)" },
        { "wait until a number", """{"op":"wait","id":"x","until":1}""", ErrorCodes.Invalid, "until", "wrong type: expected a string" },
        // An op sent twice is refused before either op reads the request, whatever else it holds: neither is run.
        { "op twice, ping then submit", """{"op":"ping","op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "op", "duplicate field" },
        { "op twice, submit then ping", """{"op":"submit","op":"ping","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "op", "duplicate field" },
        // The op the lookup took (the last) used to refuse the other op's field first: unknown field 'id'.
        { "op twice, get with its id then ping", """{"op":"get","id":"a","op":"ping"}""", ErrorCodes.Invalid, "op", "duplicate field" },
        { "op twice, ping with a get's id then get", """{"op":"ping","id":"a","op":"get"}""", ErrorCodes.Invalid, "op", "duplicate field" },
        { "op twice, the same op", """{"op":"list","limit":0,"op":"list"}""", ErrorCodes.Invalid, "op", "duplicate field" },
        { "op null", """{"op":null}""", ErrorCodes.Invalid, "op", "wrong type: expected a string" },
        { "draft null", """{"op":"submit","draft":null}""", ErrorCodes.Invalid, "draft", "must not be null" },
        { "list limit negative", """{"op":"list","limit":-1}""", ErrorCodes.Invalid, "limit", "must be between 1 and 1000" },
        { "wait timeout negative", """{"op":"wait","id":"x","timeout_ms":-1}""", ErrorCodes.Invalid, "timeout_ms", "must be between 0 and 600000" },
        { "wait timeout 1e3", """{"op":"wait","id":"x","timeout_ms":1e3}""", ErrorCodes.Invalid, "timeout_ms", "must be an integer between 0 and 600000 (no fraction or exponent)" },
        { "id with an unpaired surrogate escape", """{"op":"submit","draft":{"id":"\ud800","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id", NotValidUnicode },
        { "kind with an unpaired surrogate escape", """{"op":"submit","draft":{"id":"reply:a:1","kind":"\ud800","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.kind", NotValidUnicode },
        { "agent with an unpaired surrogate escape", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"a\udc00","text":"t"}}""", ErrorCodes.Invalid, "draft.agent", NotValidUnicode },
        { "text with an unpaired surrogate escape", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"a\ud800b"}}""", ErrorCodes.Invalid, "draft.text", NotValidUnicode },
        { "get id with an unpaired surrogate escape", """{"op":"get","id":"\udfff"}""", ErrorCodes.Invalid, "id", NotValidUnicode },
        { "context name with an unpaired surrogate escape", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":{"\udc00":"x"}}}""", ErrorCodes.Invalid, "draft.context", HoldsNotValidUnicode },
        { "context name nested in an object", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":{"a":{"b\ud800":1}}}}""", ErrorCodes.Invalid, "draft.context", HoldsNotValidUnicode },
        { "context value with an unpaired surrogate escape", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":{"rationale":"a\ud800b"}}}""", ErrorCodes.Invalid, "draft.context", HoldsNotValidUnicode },
        { "context value nested in an object", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":{"a":{"b":"\udc00"}}}}""", ErrorCodes.Invalid, "draft.context", HoldsNotValidUnicode },
        { "context value nested in an array", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":{"a":[1,"ok",["\ud83d"]]}}}""", ErrorCodes.Invalid, "draft.context", HoldsNotValidUnicode },
        { "context name nested in an array", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":{"a":[1,{"\ud800\ud800":1}]}}}""", ErrorCodes.Invalid, "draft.context", HoldsNotValidUnicode },
        // The name as sent, wherever it is: read from the reader's message and path, a quote, a space, a dot or an empty
        // name gave another name ("unknown field 'it'") at a garbled field ("$['it's'].it").
        { "unknown field with a quote", """{"op":"ping","it's":1}""", ErrorCodes.Invalid, "it's", "unknown field 'it's'" },
        { "unknown field with an empty name", """{"op":"ping","":1}""", ErrorCodes.Invalid, "", "unknown field ''" },
        { "unknown field with a dot", """{"op":"get","id":"x","a.b":1}""", ErrorCodes.Invalid, "a.b", "unknown field 'a.b'" },
        { "unknown field with a space in the draft", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","x y":1}}""", ErrorCodes.Invalid, "draft.x y", "unknown field 'x y'" },
        { "unknown field with a quote first in the draft", """{"op":"submit","draft":{"it's":1,"id":"reply:a:1","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.it's", "unknown field 'it's'" },
        { "unknown field with a long name", """{"op":"ping",""" + "\"" + new string('n', 100) + "\":1}", ErrorCodes.Invalid, new string('n', 100), "unknown field '" + new string('n', 64) + "…'" },
        // Looking a name up decodes the names it passes: such a name after "op", or after a field the reader refused, was
        // answered internal. Wherever such a name is met (looking "op" up, or by the op's reader), one wording, at the object
        // holding it: before "op" it was told without a field, after it at "$".
        { "name with an unpaired surrogate escape after op", """{"op":"ping","\ud800":1}""", ErrorCodes.Invalid, "$", NameNotValidUnicode },
        { "name with an unpaired surrogate escape before op", """{"\ud800":1,"op":"ping"}""", ErrorCodes.Invalid, "$", NameNotValidUnicode },
        { "name with an unpaired surrogate escape between fields", """{"op":"get","\udc00":1,"id":"x"}""", ErrorCodes.Invalid, "$", NameNotValidUnicode },
        { "name with an unpaired surrogate escape before a submit's op", """{"\ud800":1,"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "$", NameNotValidUnicode },
        { "name with an unpaired surrogate escape after the draft", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t"},"\udc00x":1}""", ErrorCodes.Invalid, "$", NameNotValidUnicode },
        { "name with an unpaired surrogate escape first in the draft", """{"op":"submit","draft":{"\ud800":1,"id":"reply:a:1","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft", NameNotValidUnicode },
        { "name with an unpaired surrogate escape last in the draft", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","a\udc00":1}}""", ErrorCodes.Invalid, "draft", NameNotValidUnicode },
        // Inside a value, not a name of the contract's: the value holds it.
        { "name with an unpaired surrogate escape in a string field's value", """{"op":"get","id":{"\ud800":1}}""", ErrorCodes.Invalid, "id", HoldsNotValidUnicode },
        { "wrong type before a name with an unpaired surrogate escape", """{"id":5,"\ud800":1,"op":"get"}""", ErrorCodes.Invalid, "id", "wrong type: expected a string" },
        { "wrong type in the draft before such a name", """{"draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":7,"\ud800":1},"op":"submit"}""", ErrorCodes.Invalid, "draft.text", "wrong type: expected a string" },
        // The approver sees what is executed: no blank card, no text a card cannot show.
        { "text only a zero-width space", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"\u200b"}}""", ErrorCodes.Invalid, "draft.text", "has no visible character: only whitespace and invisible characters such as U+200B at index 0" },
        { "text only format characters sent raw", "{\"op\":\"submit\",\"draft\":{\"id\":\"reply:a:1\",\"kind\":\"reply\",\"agent\":\"e\",\"text\":\" \u2060\ufeff\u200d\"}}", ErrorCodes.Invalid, "draft.text", "has no visible character: only whitespace and invisible characters such as U+2060 at index 1" },
        { "text only tag characters", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"\udb40\udc20\udb40\udc7f"}}""", ErrorCodes.Invalid, "draft.text", "has no visible character: only whitespace and invisible characters such as U+E0020 at index 0" },
        { "text UTF-16 read as UTF-8", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"h\u0000i\u0000"}}""", ErrorCodes.Invalid, "draft.text", "contains the control character U+0000 (NUL) at index 1: is it UTF-16 text read as UTF-8?" },
        { "text only NUL", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"\u0000"}}""", ErrorCodes.Invalid, "draft.text", "contains the control character U+0000 (NUL) at index 0: is it UTF-16 text read as UTF-8?" },
        { "text with an escape sequence", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"😀 \u001b[2J"}}""", ErrorCodes.Invalid, "draft.text", "contains the control character U+001B at index 2; a text takes only tab, line feed and carriage return" },
        { "text with DEL", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"ok\u007f"}}""", ErrorCodes.Invalid, "draft.text", "contains the control character U+007F at index 2; a text takes only tab, line feed and carriage return" },
        { "agent only a zero-width joiner", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"\u200d","text":"t"}}""", ErrorCodes.Invalid, "draft.agent", "has no visible character: only whitespace and invisible characters such as U+200D at index 0" },
        { "agent with a line break", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e\nApproved","text":"t"}}""", ErrorCodes.Invalid, "draft.agent", "contains the control character U+000A at index 1; a name takes no control characters" },
        { "agent with NUL", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e\u0000","text":"t"}}""", ErrorCodes.Invalid, "draft.agent", "contains the control character U+0000 (NUL) at index 1; a name takes no control characters" },
        { "agent blank", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":" \t ","text":"t"}}""", ErrorCodes.Invalid, "draft.agent", "must not be empty" },
        { "text blank", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":" \r\n\u3000"}}""", ErrorCodes.Invalid, "draft.text", "must not be empty" },
        // Each field of each op, given a value of the wrong JSON type (the pull ops' in Execution/Pull/PullOperationsTests,
        // report's in Reconciliation/ReportOperationTests).
        { "kind a number", """{"op":"submit","draft":{"id":"reply:a:1","kind":5,"agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.kind", "wrong type: expected a string" },
        { "kind an array", """{"op":"submit","draft":{"id":"reply:a:1","kind":["reply"],"agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.kind", "wrong type: expected a string" },
        { "kind null", """{"op":"submit","draft":{"id":"reply:a:1","kind":null,"agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.kind", "must not be null" },
        { "id null", """{"op":"submit","draft":{"id":null,"kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id", "must not be null" },
        { "agent a number", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":7,"text":"t"}}""", ErrorCodes.Invalid, "draft.agent", "wrong type: expected a string" },
        { "agent null", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":null,"text":"t"}}""", ErrorCodes.Invalid, "draft.agent", "must not be null" },
        { "text an object", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":{"t":1}}}""", ErrorCodes.Invalid, "draft.text", "wrong type: expected a string" },
        { "text an array of strings", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":["t"]}}""", ErrorCodes.Invalid, "draft.text", "wrong type: expected a string" },
        { "context a string", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":"why"}}""", ErrorCodes.Invalid, "draft.context", "wrong type: expected an object" },
        { "context a number", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":1}}""", ErrorCodes.Invalid, "draft.context", "wrong type: expected an object" },
        { "context true", """{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t","context":true}}""", ErrorCodes.Invalid, "draft.context", "wrong type: expected an object" },
        { "draft a number", """{"op":"submit","draft":42}""", ErrorCodes.Invalid, "draft", "wrong type: expected an object" },
        { "draft true", """{"op":"submit","draft":true}""", ErrorCodes.Invalid, "draft", "wrong type: expected an object" },
        { "get id an array", """{"op":"get","id":["reply:a:1"]}""", ErrorCodes.Invalid, "id", "wrong type: expected a string" },
        { "get id null", """{"op":"get","id":null}""", ErrorCodes.Invalid, "id", "must not be null" },
        { "get id missing", """{"op":"get"}""", ErrorCodes.Invalid, "id", "required field 'id' is missing" },
        { "wait id a number", """{"op":"wait","id":5}""", ErrorCodes.Invalid, "id", "wrong type: expected a string" },
        { "wait id null", """{"op":"wait","id":null}""", ErrorCodes.Invalid, "id", "must not be null" },
        { "wait id missing", """{"op":"wait","timeout_ms":0}""", ErrorCodes.Invalid, "id", "required field 'id' is missing" },
        { "wait timeout true", """{"op":"wait","id":"x","timeout_ms":true}""", ErrorCodes.Invalid, "timeout_ms", "wrong type: expected an integer between 0 and 600000" },
        { "wait timeout an array", """{"op":"wait","id":"x","timeout_ms":[1]}""", ErrorCodes.Invalid, "timeout_ms", "wrong type: expected an integer between 0 and 600000" },
        { "wait until an object", """{"op":"wait","id":"x","until":{}}""", ErrorCodes.Invalid, "until", "wrong type: expected a string" },
        { "list kind a number", """{"op":"list","kind":5}""", ErrorCodes.Invalid, "kind", "wrong type: expected a string" },
        { "list state an array", """{"op":"list","state":["pending"]}""", ErrorCodes.Invalid, "state", "wrong type: expected a string" },
        // Numbers out of every range a field could hold.
        { "wait timeout beyond an int", """{"op":"wait","id":"x","timeout_ms":99999999999}""", ErrorCodes.Invalid, "timeout_ms", "must be between 0 and 600000" },
        { "wait timeout below an int", """{"op":"wait","id":"x","timeout_ms":-99999999999}""", ErrorCodes.Invalid, "timeout_ms", "must be between 0 and 600000" },
        { "wait timeout 1e999999", """{"op":"wait","id":"x","timeout_ms":1e999999}""", ErrorCodes.Invalid, "timeout_ms", "must be an integer between 0 and 600000 (no fraction or exponent)" },
        { "wait timeout of 400 digits", """{"op":"wait","id":"x","timeout_ms":""" + new string('9', 400) + "}", ErrorCodes.Invalid, "timeout_ms", "must be between 0 and 600000" },
        { "list limit minus zero", """{"op":"list","limit":-0}""", ErrorCodes.Invalid, "limit", "must be between 1 and 1000" },
        { "list before of 400 digits", """{"op":"list","before":""" + new string('9', 400) + "}", ErrorCodes.Invalid, "before", "must be between 1 and 9223372036854775807" },
        { "duplicate field in the draft, told at it", """{"op":"submit","draft":{"id":"reply:a:1","id":"reply:a:2","kind":"reply","agent":"e","text":"t"}}""", ErrorCodes.Invalid, "draft.id", "duplicate field" },
        { "empty line", "", ErrorCodes.BadRequest, null, "request line is empty: send one JSON object per line" },
        { "line of only spaces", "   ", ErrorCodes.BadRequest, null, "request line is empty: send one JSON object per line" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public Task Dispatch_BadRequest_AnsweredWithCodeAndFieldAndNothingStored(string name, string line, string code, string? field) =>
        AssertRefusedAsync(name, line, code, field, message: null);

    [Theory]
    [MemberData(nameof(BadRequestMessages))]
    public Task Dispatch_BadRequest_MessageSaysWhatTheFieldTakes(string name, string line, string code, string? field, string message) =>
        AssertRefusedAsync(name, line, code, field, message);

    /// <param name="message">The exact message; null: any that is not blank.</param>
    private async Task AssertRefusedAsync(string name, string line, string code, string? field, string? message)
    {
        await using var bystander = await _host.ConnectAsync();
        await using var client = await _host.ConnectAsync();

        var response = PipeClient.ParseResponse((await client.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);

        Assert.False(response.Ok, name);
        Assert.Equal(code, response.Error!.Code);
        Assert.Equal(field, response.Error.Field);
        Assert.False(string.IsNullOrWhiteSpace(response.Error.Message));
        if (message is not null)
        {
            Assert.Equal(message, response.Error.Message);
        }
        Assert.Empty(_host.Store.List(null, null, 10));
        // The same connection keeps serving after a refusal, and so do the others.
        Assert.True((await client.PingAsync()).Ok);
        await AssertOtherConnectionsServedAsync(bystander);
    }

    /// <summary>Bytes no UTF-8 text holds, wherever they are in the line: <paramref name="before"/>, the bytes as hex, then <paramref name="after"/>.</summary>
    [Theory]
    [InlineData("""{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":" """, "C3 28 FF", "\"}}")] // a lead byte without its continuation, 0xFF
    [InlineData("""{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":" """, "C0 AF", "\"}}")] // '/' in two bytes (overlong)
    [InlineData("""{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":" """, "E0 80 AF", "\"}}")] // '/' in three bytes (overlong)
    [InlineData("""{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":" """, "ED A0 80", "\"}}")] // a surrogate, U+D800, encoded
    [InlineData("""{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":" """, "F4 90 80 80", "\"}}")] // above U+10FFFF
    [InlineData("""{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":" """, "80", "\"}}")] // a continuation byte alone
    [InlineData("""{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":" """, "E2 82", "\"}}")] // cut short
    [InlineData("""{"op":"submit","draft":{"id":"reply:a:1","kind":"reply","agent":"e","text":"t"}}""", "E2 82", "")] // cut short at the line's end
    [InlineData("""{"op":"ping"," """, "C0 AF", "\":1}")] // in a field name
    [InlineData("""{"op":"pi""", "FF", "ng\"}")] // in the op
    [InlineData("", "EF BB", """{"op":"ping"}""")] // two thirds of a byte order mark
    public async Task Dispatch_InvalidUtf8_BadRequestAndNothingStored(string before, string hex, string after)
    {
        await using var bystander = await _host.ConnectAsync();
        await using var client = await _host.ConnectAsync();
        byte[] line = [.. Encoding.UTF8.GetBytes(before), .. Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)), .. Encoding.UTF8.GetBytes(after)];

        var response = PipeClient.ParseResponse((await client.SendRawAsync(line))!);

        Assert.Equal(ErrorCodes.BadRequest, response.Error!.Code);
        Assert.Equal("request is not valid UTF-8", response.Error.Message);
        Assert.Null(response.Error.Field);
        Assert.Empty(_host.Store.List(null, null, 10));
        Assert.True((await client.PingAsync()).Ok);
        await AssertOtherConnectionsServedAsync(bystander);
    }

    /// <summary>A line a writer began with a byte order mark (.NET's Encoding.UTF8 writes one): refused, naming the mark.</summary>
    [Theory]
    [InlineData("""{"op":"ping"}""")]
    [InlineData("""{"op":"submit","draft":{"id":"reply:bom","kind":"reply","agent":"e","text":"t"}}""")]
    public async Task Dispatch_LineStartingWithAByteOrderMark_BadRequestNamingItAndNothingStored(string request)
    {
        await using var client = await _host.ConnectAsync();
        byte[] line = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(request)];

        var response = PipeClient.ParseResponse((await client.SendRawAsync(line))!);

        Assert.Equal(ErrorCodes.BadRequest, response.Error!.Code);
        Assert.Equal("request line starts with a UTF-8 byte order mark (EF BB BF): send the JSON object without it (write UTF-8 without a BOM)", response.Error.Message);
        Assert.Null(response.Error.Field);
        Assert.Empty(_host.Store.List(null, null, 10));
        Assert.True((await client.PingAsync()).Ok);
    }

    /// <summary>
    /// The pull executors' ops, each field given a value of the wrong JSON type, on a host with a pull kind (without one
    /// they are unknown ops). The rest of their table, lease and state refusals included, is in PullOperationsTests.
    /// </summary>
    [Theory]
    [InlineData("""{"op":"claim","kind":"reply","lease_seconds":"60"}""", "lease_seconds", "wrong type: expected an integer between 5 and 3600")]
    [InlineData("""{"op":"claim","kind":"reply","max":99999999999}""", "max", "must be between 1 and 100")]
    [InlineData("""{"op":"claim","kind":null}""", "kind", "must not be null")]
    [InlineData("""{"op":"complete","id":5,"lease":"x"}""", "id", "wrong type: expected a string")]
    [InlineData("""{"op":"complete","id":"reply:a:1","lease":null}""", "lease", "must not be null")]
    [InlineData("""{"op":"fail","id":["reply:a:1"],"lease":"x","error":"e"}""", "id", "wrong type: expected a string")]
    [InlineData("""{"op":"fail","id":"reply:a:1","lease":7,"error":"e"}""", "lease", "wrong type: expected a string")]
    [InlineData("""{"op":"fail","id":"reply:a:1","lease":"x","error":"e","retryable":1}""", "retryable", "wrong type: expected a boolean (true or false)")]
    [InlineData("""{"op":"fail","id":"reply:a:1","lease":"x","error":"e","error":"f"}""", "error", "duplicate field")]
    public async Task Dispatch_PullOpFieldOfTheWrongType_InvalidNamingItAndStillServing(string line, string field, string message)
    {
        await using var host = await TestHost.StartAsync(["ApprovalBot:Kinds:reply:Executor:Type=pull"], compose: b => b.AddApprovalJobs());
        await using var client = await host.ConnectAsync();

        var response = PipeClient.ParseResponse((await client.SendRawAsync(Encoding.UTF8.GetBytes(line)))!);

        Assert.Equal(new ProtocolError(ErrorCodes.Invalid, message, field), response.Error);
        Assert.Empty(host.Store.List(null, null, 10));
        Assert.True((await client.PingAsync()).Ok);
    }

    /// <summary>A connection open before the bad request, and one opened after it, are both still answered.</summary>
    private async Task AssertOtherConnectionsServedAsync(PipeClient bystander)
    {
        Assert.True((await bystander.PingAsync()).Ok);
        await using var newcomer = await _host.ConnectAsync();
        Assert.True((await newcomer.PingAsync()).Ok);
    }

    [Fact]
    public async Task Dispatch_UnknownField_MessageNamesTheField()
    {
        await using var client = await _host.ConnectAsync();

        var response = PipeClient.ParseResponse((await client.SendRawAsync("""{"op":"get","id":"x","verbose":true}"""u8.ToArray()))!);

        Assert.Equal("unknown field 'verbose'", response.Error!.Message);
    }

    [Fact]
    public async Task Dispatch_TextTooLong_MessageGivesBothLengths()
    {
        await using var client = await _host.ConnectAsync();

        var response = await client.SubmitAsync(new DraftSubmission { Id = "reply:long", Kind = "reply", Agent = "e", Text = new string('y', 300) });

        Assert.Equal("is 300 characters; kind 'reply' allows at most 280", response.Error!.Message);
    }

    [Fact]
    public async Task Dispatch_EmojiCountAsOneCharacter_TextAtTheLimitAccepted()
    {
        await using var client = await _host.ConnectAsync();
        var text = string.Concat(Enumerable.Repeat("👍", 280));

        var response = await client.SubmitAsync(new DraftSubmission { Id = "reply:emoji", Kind = "reply", Agent = "e", Text = text });

        Assert.True(response.Ok, response.Error?.Message);
        Assert.Equal(Sha.Hex(text), response.Receipt!.Sha256);
    }
}
