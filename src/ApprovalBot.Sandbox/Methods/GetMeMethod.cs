using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

internal sealed class GetMeMethod(SandboxState state) : StateMethod(state)
{
    public override string Name => "getMe";

    protected override JsonNode Invoke(ValidatedCall call)
    {
        var me = State.Bot.ToJson();
        me["can_join_groups"] = true;
        me["can_read_all_group_messages"] = false;
        me["supports_inline_queries"] = false;
        me["can_connect_to_business"] = false;
        me["has_main_web_app"] = false;
        return me;
    }
}
