using ChatServer;
using Microsoft.AspNetCore.Builder;
using OpenAI;
using OpenAI.Chat;
using System.ClientModel;

namespace Caldera.ChatServer.Tests;

/// <summary>samples/ChatServer started in this process on 127.0.0.1 at a port the system picks, stopped on dispose.</summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    /// <summary>Bounds every request of a test: far above the seconds they take, so a hang fails instead of stalling the run.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    private readonly WebApplication _app;

    private LoopbackServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = Bound };
    }

    /// <summary>The server's root, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Address { get; }

    /// <summary>A plain HTTP client on <see cref="Address"/>, for requests the OpenAI client would refuse to send.</summary>
    public HttpClient Http { get; }

    /// <param name="settings">Extra command-line settings, e.g. "--MaxSessions", "1".</param>
    public static async Task<LoopbackServer> StartAsync(params string[] settings)
    {
        var app = ChatServerApp.Create(["--urls", "http://127.0.0.1:0", "--Threads", "2", "--Logging:LogLevel:Default", "Warning", .. settings]);
        await app.StartAsync().WaitAsync(Bound);
        return new LoopbackServer(app, new Uri(app.Urls.Single() + "/"));
    }

    /// <summary>OpenAI's chat client for <paramref name="model"/> pointed at this server.</summary>
    public ChatClient Client(string model = "Stories") =>
        new(model, new ApiKeyCredential("not-checked"), new OpenAIClientOptions { Endpoint = new Uri(Address, "v1"), NetworkTimeout = Bound });

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
