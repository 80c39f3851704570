using Microsoft.Extensions.AI;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>No public call on a model can wait forever: concurrent and interleaved generations each proceed with their own text.</summary>
public class CalderaModelConcurrencyTests
{
    private static readonly CalderaModelOptions FromFile = new() { ModelPath = CompressedStories.Path, Threads = 1 };

    /// <summary>Far above the ~1 s these take; a deadlock is caught by this bound instead of hanging the test run.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static GenerationOptions Greedy(int n) => new() { MaxOutputTokens = n, Sampling = new SamplingOptions { Temperature = 0 } };

    [Fact]
    public async Task Two_generate_enumerators_advanced_in_turn_on_one_thread_each_give_their_own_text()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        string first = string.Concat(model.Generate("Once upon a time", Greedy(10)));
        string second = string.Concat(model.Generate("The dog", Greedy(10)));
        // Zip advances both in turn on one thread: the second finds the model's transformer busy and runs on its own.
        var zip = Task.Run(() => model.Generate("Once upon a time", Greedy(10)).Zip(model.Generate("The dog", Greedy(10))).ToList());
        var pairs = await zip.WaitAsync(Bound); // a TimeoutException if it blocks
        Assert.NotEmpty(pairs);
        // Zip stops with the shorter: each side's pieces so far are the start of its text alone.
        Assert.StartsWith(string.Concat(pairs.Select(p => p.First)), first, StringComparison.Ordinal);
        Assert.StartsWith(string.Concat(pairs.Select(p => p.Second)), second, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_generate_async_streams_interleaved_in_one_async_flow_each_give_their_own_text()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        string first = string.Concat(model.Generate("Once upon a time", Greedy(10)));
        string second = string.Concat(model.Generate("The dog", Greedy(10)));
        async Task<(string, string)> Interleave()
        {
            await using var a = model.GenerateAsync("Once upon a time", Greedy(10)).GetAsyncEnumerator();
            await using var b = model.GenerateAsync("The dog", Greedy(10)).GetAsyncEnumerator();
            string textA = "", textB = "";
            bool moreA = true, moreB = true;
            while (moreA || moreB)
            {
                if (moreA && (moreA = await a.MoveNextAsync())) textA += a.Current;
                if (moreB && (moreB = await b.MoveNextAsync())) textB += b.Current;
            }
            return (textA, textB);
        }
        var (textA, textB) = await Interleave().WaitAsync(Bound);
        Assert.Equal(first, textA);
        Assert.Equal(second, textB);
    }

    [Fact]
    public async Task Generations_on_two_threads_both_give_the_text_of_a_generation_alone()
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        string expected = string.Concat(model.Generate("Once upon a time", Greedy(30)));
        var runs = Enumerable.Range(0, 2).Select(_ => Task.Run(() => string.Concat(model.Generate("Once upon a time", Greedy(30))))).ToArray();
        string[] texts = await Task.WhenAll(runs).WaitAsync(Bound);
        Assert.All(texts, t => Assert.Equal(expected, t));
    }

    [Fact]
    public async Task Dispose_with_a_generation_still_open_returns_and_the_generation_then_stops()
    {
        var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        using var open = model.Generate("Once upon a time", Greedy(50)).GetEnumerator();
        Assert.True(open.MoveNext());
        await Task.Run(model.Dispose).WaitAsync(Bound); // a TimeoutException if Dispose blocks on the open enumerator
        Assert.Throws<ObjectDisposedException>(() => open.MoveNext());
        Assert.Throws<ObjectDisposedException>(() => model.Generate("Once", Greedy(5)).ToList());
    }

    [Theory]
    [InlineData(1, null)]
    [InlineData(2, null)]
    [InlineData(7, null)]
    [InlineData(20, null)]
    [InlineData(600, null)] // past the 512-token context: both stop where the context ends
    [InlineData(20, 12)] // a context the model options shorten
    public async Task The_chat_response_has_every_token_generate_gives(int maxOutputTokens, int? contextLength)
    {
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile with { ContextLength = contextLength });
        string generated = string.Concat(model.Generate("Once upon a time", Greedy(maxOutputTokens)));
        var response = await model.GetResponseAsync([new(ChatRole.User, "Once upon a time")],
            new ChatOptions { Temperature = 0, MaxOutputTokens = maxOutputTokens });
        Assert.Equal(generated, response.Text);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in model.GetStreamingResponseAsync([new(ChatRole.User, "Once upon a time")],
            new ChatOptions { Temperature = 0, MaxOutputTokens = maxOutputTokens })) updates.Add(update);
        Assert.Equal(generated, string.Concat(updates.Select(u => u.Text)));
    }
}
