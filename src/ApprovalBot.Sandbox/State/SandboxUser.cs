using System.Text.Json.Nodes;

namespace ApprovalBot.Sandbox.State;

internal sealed record SandboxUser(long Id, string FirstName, bool IsBot, string? Username = null)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["id"] = Id, ["is_bot"] = IsBot, ["first_name"] = FirstName };
        if (Username is not null)
        {
            json["username"] = Username;
        }

        if (!IsBot)
        {
            json["language_code"] = "en";
        }

        return json;
    }
}
