using System.Net;
using System.Text;
using System.Text.Json;
using Caldera;
using Microsoft.Extensions.AI;
using OpenAI.Chat;

namespace Caldera.ChatServer.Tests;

/// <summary>
/// The chat server as an OpenAI client sees it: the official .NET client gets the text the model gives in-process,
/// streamed and whole; concurrent clients all finish; a client that leaves frees its session; bad requests get a 400
/// with OpenAI's error body and the server goes on serving.
/// </summary>
public class ChatServerTests
{
    private static readonly TimeSpan Limit = LoopbackServer.Bound;

    /// <summary>The in-process answer: the compiled model itself, greedy.</summary>
    private static async Task<string> InProcess(string prompt, int maxTokens, ChatOptions? options = null)
    {
        using var model = global::ChatServer.Stories.Load(new CalderaModelOptions { Threads = 1 });
        options ??= new ChatOptions { Temperature = 0 };
        options.MaxOutputTokens = maxTokens;
        return (await model.GetResponseAsync([new(ChatRole.User, prompt)], options).WaitAsync(Limit)).Text;
    }

    private static async Task<string> Streamed(ChatClient client, string prompt, ChatCompletionOptions options, CancellationToken cancellationToken = default)
    {
        var text = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(prompt)], options, cancellationToken))
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
        return text.ToString();
    }

    [Fact]
    public async Task Streamed_and_whole_completions_give_the_text_of_the_model_in_process()
    {
        string expected = await InProcess("Once upon a time", 40);
        await using var server = await LoopbackServer.StartAsync();
        var client = server.Client();
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 };

        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage("Once upon a time")], options).WaitAsync(Limit);
        Assert.Equal(expected, whole.Content[0].Text);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, whole.FinishReason);
        Assert.Equal(40, whole.Usage.OutputTokenCount);
        Assert.Equal(expected, await Streamed(client, "Once upon a time", options).WaitAsync(Limit));
    }

    [Fact]
    public async Task A_conversation_sent_again_with_a_new_turn_prefills_only_the_new_tokens_and_gives_the_text_in_process()
    {
        await using var server = await LoopbackServer.StartAsync();
        var client = server.Client();
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 };
        List<OpenAI.Chat.ChatMessage> chat = [new UserChatMessage("Once upon a time")];
        ChatCompletion first = await client.CompleteChatAsync(chat, options).WaitAsync(Limit);
        Assert.Equal(0, first.Usage.InputTokenDetails?.CachedTokenCount ?? 0);

        // As OpenAI clients do: the whole conversation again, with the answer and a new user turn.
        chat.Add(new AssistantChatMessage(first.Content[0].Text));
        chat.Add(new UserChatMessage("She smiled."));
        ChatCompletion second = await client.CompleteChatAsync(chat, options).WaitAsync(Limit);
        // stories260K has no chat template: the prompt is BOS and the user turns joined by newlines, so what the first
        // turn's prompt batch made ("Once upon a time", but for the two tokens that always run) is reused.
        int cached = second.Usage.InputTokenDetails?.CachedTokenCount ?? 0;
        Assert.True(cached > 1 && cached < second.Usage.InputTokenCount, $"{cached} of {second.Usage.InputTokenCount} prompt tokens reused");

        using var model = global::ChatServer.Stories.Load(new CalderaModelOptions { Threads = 1 });
        var fresh = await model.GetResponseAsync(
            [new(ChatRole.User, "Once upon a time"), new(ChatRole.Assistant, first.Content[0].Text), new(ChatRole.User, "She smiled.")],
            new ChatOptions { Temperature = 0, MaxOutputTokens = 24 }).WaitAsync(Limit);
        Assert.Equal(fresh.Text, second.Content[0].Text);
        Assert.Equal(0, fresh.Usage!.CachedInputTokenCount);
    }

    [Fact]
    public async Task Seed_top_p_and_stop_reach_the_model_as_its_chat_options()
    {
        var sampled = new ChatOptions { Temperature = 0.8f, TopP = 0.95f, Seed = 7 };
        string expected = await InProcess("The dog", 30, sampled);
        string stopped = await InProcess("The dog", 30, new ChatOptions { Temperature = 0, StopSequences = ["."] });
        await using var server = await LoopbackServer.StartAsync();
        var client = server.Client();
        var options = new ChatCompletionOptions { Temperature = 0.8f, TopP = 0.95f, Seed = 7, MaxOutputTokenCount = 30 };
        Assert.Equal(expected, (await client.CompleteChatAsync([new UserChatMessage("The dog")], options).WaitAsync(Limit)).Value.Content[0].Text);

        var stop = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 30, StopSequences = { "." } };
        Assert.DoesNotContain(".", stopped);
        Assert.Equal(stopped, await Streamed(client, "The dog", stop).WaitAsync(Limit));
    }

    [Fact]
    public async Task Eight_clients_at_once_all_complete_with_their_own_text()
    {
        string[] prompts = ["Once upon a time", "The dog", "Lily", "Tom had a ball", "One day", "The sun", "Mom said", "A bird"];
        var expected = new string[prompts.Length];
        for (int i = 0; i < prompts.Length; i++) expected[i] = await InProcess(prompts[i], 30 + 5 * i);
        await using var server = await LoopbackServer.StartAsync();
        var texts = await Task.WhenAll(prompts.Select((prompt, i) => Task.Run(() =>
            Streamed(server.Client(), prompt, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 30 + 5 * i })))).WaitAsync(Limit);
        Assert.Equal(expected, texts);
    }

    [Fact]
    public async Task A_client_that_leaves_mid_stream_frees_its_session()
    {
        // One session in all: the request after the departure can only run if the departed one gave its session back.
        await using var server = await LoopbackServer.StartAsync("--MaxSessions", "1");
        var client = server.Client();
        using var leave = new CancellationTokenSource();
        int updates = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Once upon a time")],
                new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 400 }, leave.Token))
                if (++updates == 3) leave.Cancel();
        }).WaitAsync(Limit);
        Assert.Equal(3, updates);

        ChatCompletion next = await client.CompleteChatAsync([new UserChatMessage("The dog")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 10 }).WaitAsync(Limit);
        Assert.NotEmpty(next.Content[0].Text);
    }

    public static TheoryData<string, string> BadRequests => new()
    {
        { "malformed JSON", """{"model": "Stories", "messages": [{"role": "user", "content": "Once""" },
        { "a field of the wrong type", """{"model": "Stories", "messages": [{"role": "user", "content": "Once"}], "max_tokens": "ten"}""" },
        { "a message of the wrong shape", """{"model": "Stories", "messages": [{"role": "user", "content": 42}]}""" },
        { "no messages", """{"model": "Stories", "messages": []}""" },
        { "an unknown model", """{"model": "gpt-4o", "messages": [{"role": "user", "content": "Once"}]}""" },
        { "a prompt over the context", $$"""{"model": "Stories", "messages": [{"role": "user", "content": "{{string.Concat(Enumerable.Repeat("Once upon a time ", 200))}}"}]}""" },
        { "a temperature out of range", """{"model": "Stories", "messages": [{"role": "user", "content": "Once"}], "temperature": -1}""" },
        { "a streamed prompt over the context", $$"""{"model": "Stories", "stream": true, "messages": [{"role": "user", "content": "{{string.Concat(Enumerable.Repeat("Once upon a time ", 200))}}"}]}""" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_request_gets_a_400_with_an_OpenAI_error_body_and_the_next_request_succeeds(string what, string body)
    {
        await using var server = await LoopbackServer.StartAsync();
        using var response = await server.Http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json")).WaitAsync(Limit);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{what}: {(int)response.StatusCode}");
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var details = error.RootElement.GetProperty("error");
        Assert.NotEmpty(details.GetProperty("message").GetString()!);
        Assert.Equal("invalid_request_error", details.GetProperty("type").GetString());

        ChatCompletion next = await server.Client().CompleteChatAsync([new UserChatMessage("Once upon a time")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 10 }).WaitAsync(Limit);
        Assert.Equal(await InProcess("Once upon a time", 10), next.Content[0].Text);
    }

    [Fact]
    public async Task The_official_client_sees_an_unknown_model_as_a_400_and_lists_the_served_one()
    {
        await using var server = await LoopbackServer.StartAsync();
        var error = await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() =>
            server.Client("gpt-4o").CompleteChatAsync([new UserChatMessage("Once")]).WaitAsync(Limit));
        Assert.Equal(400, error.Status);
        Assert.Contains("gpt-4o", error.Message);

        var models = new OpenAI.Models.OpenAIModelClient(new System.ClientModel.ApiKeyCredential("not-checked"),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri(server.Address, "v1") });
        var list = await models.GetModelsAsync().WaitAsync(Limit);
        Assert.Equal(["Stories"], list.Value.Select(m => m.Id));
    }
}
