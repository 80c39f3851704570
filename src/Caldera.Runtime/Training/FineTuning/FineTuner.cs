using System.Diagnostics;
using System.Runtime.InteropServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Training.Adapters;
using Caldera.Runtime.Training.Model;
using Caldera.Runtime.Training.Objectives;
using Caldera.Runtime.Training.Optimization;

namespace Caldera.Runtime.Training.FineTuning;

/// <summary>
/// The fine-tuning loop: the text's tokens cut into windows of T + 1 tokens, the last share held out for validation, the
/// rest visited in a seeded shuffled order per epoch; each step accumulates the gradients of
/// <see cref="FineTuneSettings.Accumulation"/> windows (next-token loss, or with a teacher the soft-target
/// cross-entropy against its distributions), then AdamW at the scheduled rate. The window a step reads follows from the
/// step number and the seed alone, so a run is a pure function of its inputs and settings.
/// </summary>
internal sealed class FineTuner
{
    private readonly CompressedModelContent _content;
    private readonly ulong _baseChecksum;
    private readonly string _baseName;
    private readonly FineTuneSettings _settings;
    private readonly E8PNearestRow? _nearest;

    /// <param name="nearest">The E8P search that quantisation-aware training rounds with (the compiler's); needed only then.</param>
    public FineTuner(CompressedModelContent content, ulong baseChecksum, string baseName, FineTuneSettings settings, E8PNearestRow? nearest = null)
    {
        if (settings.FindProblem() is { } problem) throw new FineTuningException(problem);
        if (settings.QuantizationAware && nearest is null)
            throw new FineTuningException("quantisation-aware training rounds with the compiler's E8P search, which this caller did not supply; train without it, or with caldera finetune --quantization-aware");
        _nearest = nearest;
        _content = content;
        _baseChecksum = baseChecksum;
        _baseName = baseName;
        _settings = settings;
    }

    /// <summary>
    /// Trains on <paramref name="tokens"/> (one stream of ids) and returns the adapter of the kept step. With
    /// <paramref name="checkpointPath"/>, the state is saved there about twenty times a run, and a run that finds a
    /// checkpoint of itself there (same base, data and settings) goes on from it when <paramref name="resume"/>, giving
    /// the adapter an uninterrupted run gives.
    /// </summary>
    public LowRankAdapter Run(int[] tokens, ITeacher? teacher = null, IProgress<FineTuneProgress>? progress = null, CancellationToken cancellation = default,
        string? checkpointPath = null, bool resume = false)
    {
        var s = _settings;
        var config = _content.Config;
        int t = s.SequenceLength;
        if (t > config.ContextLength)
            throw new FineTuningException($"sequence length {t} exceeds the model's context of {config.ContextLength}; use a smaller sequence length (--seq-len; FineTuneOptions.SequenceLength)");
        if (tokens.Length == 0) throw new FineTuningException("the text is empty; give a text to fine-tune on");
        int windows = (tokens.Length - 1) / t;
        if (windows < 1)
            throw new FineTuningException($"the text has {tokens.Length} tokens, fewer than one window of {t + 1}; give more text or a smaller sequence length (--seq-len; FineTuneOptions.SequenceLength)");
        int validation = s.ValidationFraction > 0 ? Math.Max(1, (int)(windows * s.ValidationFraction)) : 0;
        int training = windows - validation;
        if (training < 1)
            throw new FineTuningException($"the text has {windows} windows of {t + 1} tokens, none left for training after {validation} for validation; give more text or a smaller validation fraction (--validation; FineTuneOptions.ValidationFraction)");
        if (teacher != null && teacher.VocabSize != config.VocabSize)
            throw new FineTuningException($"the teacher has a vocabulary of {teacher.VocabSize}, the model {config.VocabSize}; distil from the checkpoint the model was compressed from");
        int totalSteps = s.Steps ?? s.Epochs * ((training + s.Accumulation - 1) / s.Accumulation);
        var schedule = new LearningRateSchedule(s.LearningRate, s.WarmupSteps(totalSteps), totalSteps);

        var model = TrainableModel.Peel(_content, s.Rank, s.QuantizationAware ? _nearest : null, s.TrainNorms);
        if (model.Trained.Count == 0) throw new FineTuningException("the model has no low-rank factors to train (compressed with rank 0 or kept dense)");
        using var pool = new WorkerPool(s.Threads);
        var pass = new WindowPass(model, pool, t);
        var optimizer = new AdamW(model.Trained, s.WeightDecay, s.ClipNorm, model.TrainedGains);
        var order = new WindowOrder(training, s.Seed);
        var teacherLogits = teacher is null ? null : new float[t * config.VocabSize];

        var losses = new List<double>();
        var validationLosses = new List<(int, double)>();
        int interval = s.ValidationInterval > 0 ? s.ValidationInterval : Math.Max(1, totalSteps / 10);
        int keptStep = totalSteps;
        IReadOnlyList<AdapterMatrix>? best = null;
        IReadOnlyList<AdapterGain> bestGains = [];
        double bestLoss = double.PositiveInfinity;
        string dataSha256 = Sha256(tokens);
        string identity = $"{_baseChecksum:x16} {dataSha256} {s with { Threads = 1 }} {(teacher is null ? "next-token" : "distillation")}";
        int firstStep = 1;
        if (checkpointPath != null && resume && File.Exists(checkpointPath))
            firstStep = Restore(FineTuneCheckpoint.Read(checkpointPath)) + 1;
        else if (validation > 0) Validate(0);
        int checkpointInterval = Math.Max(1, totalSteps / 20);

        var clock = Stopwatch.StartNew();
        for (int step = firstStep; step <= totalSteps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            model.ClearGradients();
            double loss = 0;
            float weight = 1f / (t * s.Accumulation);
            for (int a = 0; a < s.Accumulation; a++)
            {
                var window = tokens.AsSpan(order.Window((long)(step - 1) * s.Accumulation + a) * t, t + 1);
                if (teacher is null) loss += pass.Accumulate(window[..t], window[1..], weight);
                else
                {
                    teacher.Logits(window[..t], teacherLogits);
                    loss += pass.Accumulate(window[..t], new SoftTargets(teacherLogits!, t, config.VocabSize), weight);
                }
            }
            loss /= t * s.Accumulation;
            double rate = schedule.At(step);
            if (!double.IsFinite(loss))
                throw new FineTuningException($"the loss became {loss} at step {step} of {totalSteps} (learning rate {rate:G3}): training diverged; lower the learning rate (--lr)");
            optimizer.Apply(rate);
            model.RoundTrained();
            if (optimizer.Parameters.Any(p => !AllFinite(p.Values)))
                throw new FineTuningException($"the factors became non-finite at step {step} of {totalSteps} (learning rate {rate:G3}): training diverged; lower the learning rate (--lr)");
            losses.Add(loss);
            double? validationLoss = validation > 0 && (step % interval == 0 || step == totalSteps) ? Validate(step) : null;
            double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            if (checkpointPath != null && step % checkpointInterval == 0 && step < totalSteps) Save(step);
            progress?.Report(new FineTuneProgress(step, totalSteps, loss, validationLoss, (double)(step - firstStep + 1) * s.Accumulation * t / seconds, clock.Elapsed));
        }

        var (matrices, gains) = best is null ? (LowRankAdapter.Capture(model), LowRankAdapter.CaptureGains(model)) : (best, bestGains);
        var record = new AdapterTraining
        {
            Objective = teacher is null ? "next-token" : "distillation",
            LearningRate = s.LearningRate, Steps = totalSteps, SequenceLength = t, Accumulation = s.Accumulation,
            WarmupSteps = schedule.WarmupSteps, WeightDecay = s.WeightDecay, ClipNorm = s.ClipNorm, ValidationFraction = s.ValidationFraction,
            Seed = s.Seed, QuantizationAware = s.QuantizationAware, DataTokens = tokens.Length, ValidationTokens = (long)validation * t,
            TrainedTokens = (long)totalSteps * s.Accumulation * t, DataSha256 = dataSha256,
            Losses = losses, ValidationLosses = validationLosses, KeptStep = keptStep,
        };
        return new LowRankAdapter(_baseChecksum, _baseName, s.Rank, matrices, record) { Gains = gains };

        void Save(int step) => new FineTuneCheckpoint
        {
            Identity = identity, Step = step, OptimizerStep = optimizer.Step,
            Parameters = optimizer.Parameters.Select(p => p.Values).ToArray(),
            M = optimizer.Moments.Select(m => m.M).ToArray(), V = optimizer.Moments.Select(m => m.V).ToArray(),
            Best = best is null ? [] : [.. best.SelectMany(m => new[] { m.LTransposed, m.R }), .. bestGains.Select(g => g.Values)],
            KeptStep = keptStep, BestLoss = bestLoss, Losses = losses.ToArray(), ValidationLosses = validationLosses.ToArray(),
        }.Write(checkpointPath!);

        // Puts the run back where the checkpoint left it and returns its step.
        int Restore(FineTuneCheckpoint c)
        {
            if (c.Identity != identity)
                throw new FineTuningException($"{checkpointPath} is a checkpoint of another run (other model, text or settings); delete it or drop --resume");
            var parameters = optimizer.Parameters.ToArray();
            if (c.Parameters.Length != parameters.Length || c.Parameters.Where((p, i) => p.Length != parameters[i].Values.Length).Any())
                throw new FineTuningException($"{checkpointPath} does not fit this model's factors; delete it or drop --resume");
            for (int i = 0; i < parameters.Length; i++)
            {
                c.Parameters[i].CopyTo(parameters[i].Values, 0);
                c.M[i].CopyTo(optimizer.Moments[i].M, 0);
                c.V[i].CopyTo(optimizer.Moments[i].V, 0);
            }
            optimizer.Step = c.OptimizerStep;
            model.RoundTrained();
            losses.AddRange(c.Losses);
            validationLosses.AddRange(c.ValidationLosses);
            (keptStep, bestLoss) = (c.KeptStep, c.BestLoss);
            if (c.Best.Length > 0)
            {
                var trained = model.Trained;
                best = trained.Select((l, i) => new AdapterMatrix(l.Name, l.Rows, l.Columns, l.TrainedRank, c.Best[2 * i], c.Best[2 * i + 1])).ToArray();
                bestGains = model.TrainedGains.Select((g, i) => new AdapterGain(g.Name, c.Best[2 * trained.Count + i])).ToArray();
            }
            return c.Step;
        }

        // Mean loss per token over the held-out windows, in the run's objective; keeps the factors of the best step so far.
        double Validate(int step)
        {
            double sum = 0;
            for (int w = training; w < windows; w++)
            {
                var window = tokens.AsSpan(w * t, t + 1);
                if (teacher is null) sum += pass.Loss(window[..t], window[1..]);
                else
                {
                    teacher.Logits(window[..t], teacherLogits);
                    sum += pass.Loss(window[..t], new SoftTargets(teacherLogits!, t, config.VocabSize));
                }
            }
            double loss = sum / ((long)validation * t);
            validationLosses.Add((step, loss));
            if (loss < bestLoss)
            {
                bestLoss = loss;
                keptStep = step;
                best = LowRankAdapter.Capture(model);
                bestGains = LowRankAdapter.CaptureGains(model);
            }
            return loss;
        }
    }

    private static bool AllFinite(float[] values)
    {
        foreach (float v in values)
            if (!float.IsFinite(v)) return false;
        return true;
    }

    private static string Sha256(int[] tokens) =>
        Convert.ToHexStringLower(Formats.Sha256.HashData(MemoryMarshal.AsBytes(tokens.AsSpan())));

    /// <summary>Epoch e visits the training windows in a shuffle seeded by (seed, e): window c of the run follows from c alone.</summary>
    private sealed class WindowOrder(int windows, ulong seed)
    {
        private int _epoch = -1;
        private readonly int[] _order = new int[windows];

        public int Window(long c)
        {
            int epoch = (int)(c / windows);
            if (epoch != _epoch)
            {
                for (int i = 0; i < windows; i++) _order[i] = i;
                var random = new SeededRandom(seed ^ (0x9E3779B97F4A7C15UL * (ulong)(epoch + 1)));
                for (int i = windows - 1; i > 0; i--)
                {
                    int j = (int)(random.NextUInt64() % (ulong)(i + 1));
                    (_order[i], _order[j]) = (_order[j], _order[i]);
                }
                _epoch = epoch;
            }
            return _order[c % windows];
        }
    }
}
