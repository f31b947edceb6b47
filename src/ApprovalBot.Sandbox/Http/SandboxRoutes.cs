using ApprovalBot.Sandbox.Methods;
using ApprovalBot.Sandbox.Spec;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Sandbox.Http;

internal static class SandboxRoutes
{
    public static void Map(WebApplication app, SandboxState state, SandboxControl control, BotApiSpec spec, ILogger logger)
    {
        IBotMethod[] implemented =
        [
            new GetMeMethod(state),
            new DeleteWebhookMethod(state),
            new GetWebhookInfoMethod(state),
            new GetUpdatesMethod(state, spec),
            new SendMessageMethod(state),
            new SendDocumentMethod(state),
            new EditMessageTextMethod(state),
            new EditMessageReplyMarkupMethod(state),
            new DeleteMessageMethod(state),
            new AnswerCallbackQueryMethod(state),
            new SetMyCommandsMethod(state),
            new GetMyCommandsMethod(state),
            new DeleteMyCommandsMethod(state),
        ];
        var methods = implemented.ToDictionary(m => m.Name, StringComparer.OrdinalIgnoreCase);
        var validator = new CallValidator(new JsonShapeChecker(spec));
        var botApi = new BotApiEndpoint(state, spec, validator, methods, app.Lifetime.ApplicationStopping, logger);

        // Not "/bot{token}": ASP.NET matches a complex segment's literal at its last occurrence, so a token whose secret
        // holds "bot" (a real one may) was a 404 for every method. The endpoint answers 404 for a segment without "bot".
        app.Use(new BrowserGuard(state.Settings.AllowRemote).InvokeAsync);
        app.MapMethods("/{botToken}/{method}", ["GET", "POST"], botApi.HandleAsync);
        new ControlEndpoints(control, state).Map(app);
        app.MapGet("/", context => HumanPage.WriteAsync(context, control));
        app.MapFallback(context => BotResponses.WriteErrorAsync(context.Response, BotApiException.NotFound()));
    }
}
