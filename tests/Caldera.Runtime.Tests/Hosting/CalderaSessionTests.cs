using Microsoft.Extensions.AI;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>
/// Sessions on one model: each keeps its conversation's KV cache between turns and prefills only what is new, turns of
/// different sessions decode together in one batch per step, and the limits (sessions, context) are clear errors.
/// </summary>
public class CalderaSessionTests
{
    private static readonly CalderaModelOptions FromFile = new() { ModelPath = CompressedStories.Path, Threads = 2 };

    /// <summary>Far above the seconds these take; a deadlock fails the test instead of hanging the run.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    private static ChatOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokens = maxTokens };

    [Fact]
    public async Task A_later_turn_prefills_only_its_new_tokens_and_gives_the_text_of_the_whole_conversation_from_scratch()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        using var session = model.CreateSession();
        List<ChatMessage> chat = [new(ChatRole.User, "Once upon a time")];
        var first = await session.GetResponseAsync(chat, Greedy(24)).WaitAsync(Bound);
        Assert.Equal(0, first.Usage!.CachedInputTokenCount);
        int cachedAfterFirst = session.CachedTokenCount;
        // The prompt and every sampled token but the last were run, so the cache holds them.
        Assert.Equal(first.Usage.InputTokenCount + first.Usage.OutputTokenCount - 1, cachedAfterFirst);

        int[] previousPrompt = model.Tokenizer.Encode("Once upon a time", addBos: true);
        foreach (string next in (string[])["The dog ran to the park.", "She smiled."])
        {
            chat.Add(new(ChatRole.Assistant, first.Text));
            chat.Add(new(ChatRole.User, next));
            // stories260K has no chat template: its prompt is BOS and the user turns joined by newlines, so the reusable
            // prefix is what this turn's prompt shares with the cache's tokens.
            int[] prompt = model.Tokenizer.Encode(string.Join("\n", chat.Where(m => m.Role == ChatRole.User).Select(m => m.Text)), addBos: true);
            long prefilledBefore = model.Scheduler.PrefilledTokens;
            var response = await session.GetResponseAsync(chat, Greedy(24)).WaitAsync(Bound);
            long prefilled = model.Scheduler.PrefilledTokens - prefilledBefore;

            // What the last prompt shares with this one was made by a prompt batch, so it is reused (sampled tokens never are).
            int shared = prompt.AsSpan().CommonPrefixLength(previousPrompt);
            Assert.Equal(prompt.Length, response.Usage!.InputTokenCount);
            Assert.True(shared > 1 && response.Usage.CachedInputTokenCount >= shared,
                $"{response.Usage.CachedInputTokenCount} prompt tokens were reused; the last prompt shares {shared}");
            Assert.Equal(prompt.Length - response.Usage.CachedInputTokenCount, prefilled);
            previousPrompt = prompt;

            using var fresh = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
            var scratch = await fresh.GetResponseAsync(chat, Greedy(24)).WaitAsync(Bound);
            Assert.Equal(prompt.Length, fresh.Scheduler.PrefilledTokens);
            Assert.Equal(scratch.Text, response.Text);
            first = response;
        }
    }

    [Fact]
    public async Task Stateless_calls_that_repeat_a_conversation_run_on_the_cache_it_left_and_give_the_text_from_scratch()
    {
        // Two caches at most: the conversation's and the interleaved one's; a third conversation takes the oldest.
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile with { MaxSessions = 2, PromptCaching = true });
        List<ChatMessage> chat = [new(ChatRole.User, "Once upon a time")];
        var first = await model.GetResponseAsync(chat, Greedy(24)).WaitAsync(Bound);
        Assert.Equal(0, first.Usage!.CachedInputTokenCount);
        // Another conversation in between shares only BOS with it: it gets a cache of its own and leaves the first alone.
        var other = await model.GetResponseAsync([new(ChatRole.User, "The dog")], Greedy(8)).WaitAsync(Bound);
        Assert.Equal(0, other.Usage!.CachedInputTokenCount);
        Assert.Equal(2, model.KeptCacheLengths().Length);

        chat.Add(new(ChatRole.Assistant, first.Text));
        chat.Add(new(ChatRole.User, "She smiled."));
        int[] previous = model.Tokenizer.Encode("Once upon a time", addBos: true);
        int[] prompt = model.Tokenizer.Encode("Once upon a time\nShe smiled.", addBos: true);
        long prefilledBefore = model.Scheduler.PrefilledTokens;
        var response = await model.GetResponseAsync(chat, Greedy(24)).WaitAsync(Bound);
        long prefilled = model.Scheduler.PrefilledTokens - prefilledBefore;
        int shared = prompt.AsSpan().CommonPrefixLength(previous);
        Assert.True(shared > 1 && response.Usage!.CachedInputTokenCount >= shared,
            $"{response.Usage!.CachedInputTokenCount} prompt tokens were reused; the earlier prompt shares {shared}");
        Assert.Equal(prompt.Length - response.Usage.CachedInputTokenCount, prefilled);

        using var fresh = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        Assert.Equal((await fresh.GetResponseAsync(chat, Greedy(24)).WaitAsync(Bound)).Text, response.Text);

        // A third conversation, with both caches kept and neither continued, reuses the oldest: still two caches.
        var third = await model.GetResponseAsync([new(ChatRole.User, "Lily")], Greedy(8)).WaitAsync(Bound);
        Assert.Equal((await fresh.GetResponseAsync([new(ChatRole.User, "Lily")], Greedy(8)).WaitAsync(Bound)).Text, third.Text);
        Assert.Equal(2, model.KeptCacheLengths().Length);
    }

    [Fact]
    public async Task Without_prompt_caching_every_stateless_call_prefills_its_whole_prompt()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        List<ChatMessage> chat = [new(ChatRole.User, "Once upon a time")];
        var first = await model.GetResponseAsync(chat, Greedy(8)).WaitAsync(Bound);
        var again = await model.GetResponseAsync(chat, Greedy(8)).WaitAsync(Bound);
        Assert.Equal(0, again.Usage!.CachedInputTokenCount);
        Assert.Equal(first.Text, again.Text);
        Assert.Empty(model.KeptCacheLengths());
    }

    [Fact]
    public async Task Eight_concurrent_greedy_sessions_each_give_the_text_of_that_session_alone()
    {
        string[] prompts =
        [
            "Once upon a time", "The dog", "Lily wanted to play with her big red ball in the garden", "Tom",
            "One day, a little bird", "The sun was hot and", "Mom said", "There was a tiny boat on a lake that",
        ];
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        // Different output lengths: sessions leave the batch at different steps, and later ones join while others decode.
        var alone = new string[prompts.Length];
        for (int i = 0; i < prompts.Length; i++)
            alone[i] = (await model.GetResponseAsync([new(ChatRole.User, prompts[i])], Greedy(40 + 10 * i)).WaitAsync(Bound)).Text;
        Assert.Equal(1, model.Scheduler.LargestDecodeBatch);

        var together = prompts.Select((prompt, i) => Task.Run(async () =>
        {
            using var session = model.CreateSession();
            return (await session.GetResponseAsync([new(ChatRole.User, prompt)], Greedy(40 + 10 * i))).Text;
        })).ToArray();
        string[] texts = await Task.WhenAll(together).WaitAsync(Bound);

        Assert.True(model.Scheduler.LargestDecodeBatch > 1, "the sessions never decoded in one batch");
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(alone[i], texts[i]);
    }

    [Fact]
    public async Task A_long_prompt_is_prefilled_a_chunk_per_step_while_another_session_goes_on_decoding()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        using var decoding = model.CreateSession();
        using var prompting = model.CreateSession();
        // About 300 tokens: five 64-token chunks, each followed by a decode step of the other session.
        string longPrompt = string.Join(" ", Enumerable.Repeat("Lily and Tom played in the park.", 30));
        int promptTokens = model.Tokenizer.Encode(longPrompt, addBos: true).Length;
        int chunks = (promptTokens + 63) / 64;
        Assert.True(chunks >= 4, $"the prompt has {promptTokens} tokens");
        // Each turn joins the scheduler at its stream's first MoveNextAsync: the short prompt first, then the long one.
        await using var stream = decoding.GetStreamingResponseAsync([new(ChatRole.User, "Once upon a time")], Greedy(450)).GetAsyncEnumerator();
        await using var second = prompting.GetStreamingResponseAsync([new(ChatRole.User, longPrompt)], Greedy(1)).GetAsyncEnumerator();
        var first = stream.MoveNextAsync().AsTask();
        Assert.True(await second.MoveNextAsync().AsTask().WaitAsync(Bound));
        Assert.True(await first.WaitAsync(Bound));
        var turn = prompting.LastTurn!;
        long during = turn.PrefillEndBatches!.Value - turn.PrefillStartBatches!.Value;
        // Between its first chunk and its last, one decode step of the other session follows every chunk.
        Assert.True(during >= chunks - 1, $"{during} decode steps ran during a prefill of {chunks} chunks");
    }

    [Fact]
    public async Task Sessions_past_the_cap_are_refused_until_one_is_disposed_and_model_calls_wait_for_a_place()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile with { MaxSessions = 2 });
        var first = model.CreateSession();
        using var second = model.CreateSession();
        var error = Assert.Throws<InvalidOperationException>(() => model.CreateSession());
        Assert.Contains("MaxSessions", error.Message);

        var waiting = model.GetResponseAsync([new(ChatRole.User, "Once upon a time")], Greedy(5));
        await Task.Delay(200);
        Assert.False(waiting.IsCompleted, "a model call ran with every place taken");
        first.Dispose();
        Assert.NotEmpty((await waiting.WaitAsync(Bound)).Text);
        using var third = model.CreateSession();
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_is_a_clear_error_and_the_session_still_serves()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile with { ContextLength = 8 });
        using var session = model.CreateSession();
        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            session.GetResponseAsync([new(ChatRole.User, "Once upon a time there was a little girl named Lily")], Greedy(5)));
        Assert.Contains("ContextLength", error.Message);
        Assert.Contains("8", error.Message);
        var response = await session.GetResponseAsync([new(ChatRole.User, "Once")], Greedy(20)).WaitAsync(Bound);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(8, response.Usage!.InputTokenCount + response.Usage.OutputTokenCount - 1);
    }

    [Fact]
    public async Task Cancelling_one_session_leaves_the_others_their_text_and_the_cancelled_one_serves_again()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        string expected = (await model.GetResponseAsync([new(ChatRole.User, "The dog")], Greedy(60)).WaitAsync(Bound)).Text;
        using var cancelled = model.CreateSession();
        using var other = model.CreateSession();
        using var cancel = new CancellationTokenSource();
        var otherText = other.GetResponseAsync([new(ChatRole.User, "The dog")], Greedy(60));
        int pieces = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in cancelled.GetStreamingResponseAsync([new(ChatRole.User, "Once upon a time")], Greedy(400), cancel.Token))
                if (++pieces == 2) cancel.Cancel();
        }).WaitAsync(Bound);
        Assert.Equal(2, pieces);
        Assert.Equal(expected, (await otherText.WaitAsync(Bound)).Text);
        Assert.NotEmpty((await cancelled.GetResponseAsync([new(ChatRole.User, "Tom")], Greedy(5)).WaitAsync(Bound)).Text);
    }

    [Fact]
    public async Task A_session_runs_one_turn_at_a_time()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        using var session = model.CreateSession();
        await using var open = session.GetStreamingResponseAsync([new(ChatRole.User, "Once upon a time")], Greedy(50)).GetAsyncEnumerator();
        Assert.True(await open.MoveNextAsync());
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => session.GetResponseAsync([new(ChatRole.User, "The dog")], Greedy(5)));
        Assert.Contains("one turn at a time", error.Message);
    }
}
