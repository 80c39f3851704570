using Caldera;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ChatServer;

/// <summary>
/// The server: one <see cref="Stories"/> model for the whole process, and OpenAI's <c>GET /v1/models</c> and
/// <c>POST /v1/chat/completions</c> on it (<see cref="ChatCompletions"/>). Tests host it in their own process.
/// </summary>
public static class ChatServerApp
{
    /// <summary>
    /// The app for <paramref name="args"/> (ASP.NET Core's: <c>--urls</c>, and the model settings <c>--Threads</c>,
    /// <c>--MaxSessions</c> and <c>--ContextLength</c>), not yet started; it disposes the model when it stops.
    /// </summary>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Services.ConfigureHttpJsonOptions(options => options.SerializerOptions.TypeInfoResolverChain.Insert(0, OpenAIJsonContext.Default));
        var model = Stories.Load(ModelOptions(builder.Configuration));
        builder.Services.AddSingleton(model);

        var app = builder.Build();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
            Console.WriteLine($"ChatServer: {model.Name} listening on {string.Join(", ", addresses ?? [])}");
        });
        app.Lifetime.ApplicationStopped.Register(model.Dispose);
        var completions = new ChatCompletions(model);
        app.MapGet("/v1/models", completions.ListModels);
        app.MapPost("/v1/chat/completions", completions.Complete);
        return app;
    }

    private static CalderaModelOptions ModelOptions(IConfiguration configuration)
    {
        // OpenAI clients send the whole conversation every turn: prefill only what the kept caches do not hold.
        var options = new CalderaModelOptions { PromptCaching = true };
        if (Setting(configuration, "Threads") is int threads) options = options with { Threads = threads };
        if (Setting(configuration, "MaxSessions") is int sessions) options = options with { MaxSessions = sessions };
        if (Setting(configuration, "ContextLength") is int context) options = options with { ContextLength = context };
        return options;
    }

    private static int? Setting(IConfiguration configuration, string name) => configuration[name] switch
    {
        null => null,
        var text when int.TryParse(text, out int value) && value > 0 => value,
        var text => throw new ArgumentException($"--{name} {text}: expected a positive integer"),
    };
}
