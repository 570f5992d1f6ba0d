using System.Linq.Expressions;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using static Functional.AD.Np;

namespace Benchmarks;

/// <summary>
/// XOR mean gradient over a batch of 100: <c>Ad.Vmap(Ad.Grad(loss), [null, 0, 0])</c> compiled (un-jitted: rewritten per call
/// signature into eager calls) plus the mean over the batch, against a loop of 100 single-example gradients
/// (also compiled, un-jitted) and against hand-written batched C# (a scalar loop; over columns with TensorPrimitives).
/// </summary>
[MemoryDiagnoser]
public class VmapXorBench
{
    public record Params(Tensor W1, Tensor B1, Tensor W2, Tensor B2);
    const int B = 100;

    Func<Params, Tensor, Tensor, Params> batched = null!, single = null!, batchedJit = null!, singleJit = null!;
    Func<Params, Tensor, Tensor, Params> meanJit = null!;
    Params p = null!;
    Tensor xs = null!, ys = null!;
    Tensor[] xRows = null!, yRows = null!;
    float[] w1 = null!, b1 = null!, w2 = null!, xData = null!, yData = null!, x0 = null!, x1 = null!;
    float b2;

    [GlobalSetup]
    public void Setup()
    {
        Expression<Func<Tensor, Tensor>> sigmoid = z => 1.0 / (1 + Exp(-z));
        Expression<Func<Params, Tensor, Tensor, Tensor>> loss = (q, a, t) =>
            Let(sigmoid.Invoke(Dot(q.W2, Tanh(Dot(q.W1, a) + q.B1)) + q.B2), o => -t * Log(o) - (1 - t) * Log(1 - o));
        batched = Ad.Vmap(Ad.Grad(loss), inAxes: [null, 0, 0]).Compile();
        single = Ad.Grad(loss).Compile();
        var vg = Ad.Vmap(Ad.Grad(loss), inAxes: [null, 0, 0]);
        batchedJit = Ad.Jit(vg);
        singleJit = Ad.Jit(Ad.Grad(loss));
        // the mean inside the jitted function too: one call gives the minibatch gradient
        Expression<Func<Params, Tensor, Tensor, Params>> mean = (q, a, t) => Let(vg.Invoke(q, a, t), g =>
            new Params(Mean(g.W1, 0, false), Mean(g.B1, 0, false), Mean(g.W2, 0, false), Mean(g.B2, 0, false)));
        meanJit = Ad.Jit(mean);
        p = Tree.Normal(PrngKey.Create(0), new Params(Zeros([3, 2]), Zeros([3]), Zeros([3]), Zeros([])));
        var rng = new Random(0);
        xData = new float[B * 2]; yData = new float[B]; x0 = new float[B]; x1 = new float[B];
        for (int i = 0; i < B; i++)
        {
            int a = rng.Next(2), b = rng.Next(2);
            (xData[2 * i], xData[2 * i + 1], yData[i], x0[i], x1[i]) = (a, b, a ^ b, a, b);
        }
        xs = new Tensor(xData, [B, 2]);
        ys = new Tensor(yData);
        xRows = Enumerable.Range(0, B).Select(i => new Tensor(new[] { xData[2 * i], xData[2 * i + 1] })).ToArray();
        yRows = Enumerable.Range(0, B).Select(i => Tensor.Scalar(yData[i], DType.Float32)).ToArray();
        (w1, b1, w2, b2) = (p.W1.ToFloatArray(), p.B1.ToFloatArray(), p.W2.ToFloatArray(), p.B2.ToFloatArray()[0]);
    }

    [Benchmark(Baseline = true, Description = "hand-written C#, scalar loop over the batch")]
    public float[][] ScalarLoop()
    {
        var gw1 = new float[6]; var gb1 = new float[3]; var gw2 = new float[3]; float gb2 = 0;
        Span<float> h = stackalloc float[3];
        for (int n = 0; n < B; n++)
        {
            float xa = xData[2 * n], xb = xData[2 * n + 1], logit = b2;
            for (int i = 0; i < 3; i++) { h[i] = MathF.Tanh(w1[2 * i] * xa + w1[2 * i + 1] * xb + b1[i]); logit += w2[i] * h[i]; }
            float d = 1 / (1 + MathF.Exp(-logit)) - yData[n];
            gb2 += d;
            for (int i = 0; i < 3; i++)
            {
                gw2[i] += d * h[i];
                float dz = d * w2[i] * (1 - h[i] * h[i]);
                gb1[i] += dz; gw1[2 * i] += dz * xa; gw1[2 * i + 1] += dz * xb;
            }
        }
        const float s = 1f / B;
        TensorPrimitives.Multiply(gw1, s, gw1); TensorPrimitives.Multiply(gb1, s, gb1); TensorPrimitives.Multiply(gw2, s, gw2);
        return [gw1, gb1, gw2, [gb2 * s]];
    }

    [Benchmark(Description = "hand-written C#, over columns with TensorPrimitives")]
    public float[][] Columns()
    {
        Span<float> logit = stackalloc float[B], z = stackalloc float[B], d = stackalloc float[B], dz = stackalloc float[B];
        var h = new float[3 * B];
        logit.Fill(b2);
        for (int i = 0; i < 3; i++)
        {
            var hi = h.AsSpan(i * B, B);
            TensorPrimitives.Multiply(x0, w1[2 * i], z);
            TensorPrimitives.MultiplyAdd(x1, w1[2 * i + 1], z, z);
            TensorPrimitives.Add(z, b1[i], z);
            TensorPrimitives.Tanh(z, hi);
            TensorPrimitives.MultiplyAdd(hi, w2[i], logit, logit);
        }
        TensorPrimitives.Sigmoid(logit, d);
        TensorPrimitives.Subtract(d, yData, d);
        var gw1 = new float[6]; var gb1 = new float[3]; var gw2 = new float[3];
        const float s = 1f / B;
        for (int i = 0; i < 3; i++)
        {
            var hi = h.AsSpan(i * B, B);
            gw2[i] = TensorPrimitives.Dot(d, hi) * s;
            TensorPrimitives.Multiply(hi, hi, dz);
            TensorPrimitives.Subtract(1f, dz, dz);
            TensorPrimitives.Multiply(dz, d, dz);
            TensorPrimitives.Multiply(dz, w2[i], dz);
            gb1[i] = TensorPrimitives.Sum(dz) * s;
            gw1[2 * i] = TensorPrimitives.Dot(dz, x0) * s;
            gw1[2 * i + 1] = TensorPrimitives.Dot(dz, x1) * s;
        }
        return [gw1, gb1, gw2, [TensorPrimitives.Sum(d) * s]];
    }

    [Benchmark(Description = "Ad.Vmap(Ad.Grad(loss)).Compile() + Mean (un-jitted)")]
    public Params Vmapped() => Tree.Map(g => Mean(g, 0, false), batched(p, xs, ys));

    [Benchmark(Description = "Ad.Jit(Ad.Vmap(Ad.Grad(loss))) + Mean")]
    public Params VmappedJit() => Tree.Map(g => Mean(g, 0, false), batchedJit(p, xs, ys));

    [Benchmark(Description = "Ad.Jit of (Vmap(Grad) then Mean), one call")]
    public Params VmappedMeanJit() => meanJit(p, xs, ys);

    [Benchmark(Description = "loop of 100 Ad.Jit(Ad.Grad(loss)) + mean")]
    public Params LoopJit()
    {
        var acc = singleJit(p, xRows[0], yRows[0]);
        for (int i = 1; i < B; i++) acc = Tree.Map((a, g) => a + g, acc, singleJit(p, xRows[i], yRows[i]));
        return Tree.Map(a => a / B, acc);
    }

    [Benchmark(Description = "loop of 100 Ad.Grad(loss).Compile() + mean (un-jitted)")]
    public Params Loop()
    {
        var acc = single(p, xRows[0], yRows[0]);
        for (int i = 1; i < B; i++) acc = Tree.Map((a, g) => a + g, acc, single(p, xRows[i], yRows[i]));
        return Tree.Map(a => a / B, acc);
    }
}
