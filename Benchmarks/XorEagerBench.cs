using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using static Functional.AD.Np;

namespace Benchmarks;

/// <summary>
/// The XOR loss gradient for one example, un-jitted: <c>Ad.Grad(loss)</c> compiled with plain
/// <c>Expression.Compile()</c> (every primitive an eager Np call) against the same gradient written by hand.
/// </summary>
[MemoryDiagnoser]
public class XorEagerBench
{
    public record Params(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

    Func<Params, Tensor, Tensor, Params> grad = null!;
    Params p = null!;
    Tensor x = null!, y = null!;
    float[] w1 = null!, b1 = null!, w2 = null!, xs = null!;
    float b2, ys;

    [GlobalSetup]
    public void Setup()
    {
        Expression<Func<Tensor, Tensor>> sigmoid = z => 1.0 / (1 + Exp(-z));
        Expression<Func<Params, Tensor, Tensor, Tensor>> loss = (q, a, t) =>
            Let(sigmoid.Invoke(Dot(q.W2, Tanh(Dot(q.W1, a) + q.B1)) + q.B2), o => -t * Log(o) - (1 - t) * Log(1 - o));
        grad = Ad.Grad(loss).Compile();
        p = Tree.Normal(PrngKey.Create(0), new Params(Zeros([3, 2]), Zeros([3]), Zeros([3]), Zeros([])));
        x = new Tensor(new float[] { 1, 0 });
        y = new Tensor(1.0);
        (w1, b1, w2, b2, xs, ys) = (p.W1.ToFloatArray(), p.B1.ToFloatArray(), p.W2.ToFloatArray(), p.B2.ToFloatArray()[0], x.ToFloatArray(), 1f);
    }

    [Benchmark(Baseline = true, Description = "hand-written C#, allocating outputs")]
    public float[][] HandWritten() => XorByHand.Gradient(w1, b1, w2, b2, xs, ys);

    [Benchmark(Description = "Ad.Grad(loss).Compile() (un-jitted)")]
    public Params Eager() => grad(p, x, y);
}

/// <summary>The XOR cross-entropy gradient derived by hand: d loss / d logit = sigmoid(logit) - y.</summary>
public static class XorByHand
{
    public static float[][] Gradient(float[] w1, float[] b1, float[] w2, float b2, float[] x, float y)
    {
        Span<float> h = stackalloc float[3];
        float logit = b2;
        for (int i = 0; i < 3; i++)
        {
            h[i] = MathF.Tanh(w1[2 * i] * x[0] + w1[2 * i + 1] * x[1] + b1[i]);
            logit += w2[i] * h[i];
        }
        float dlogit = 1 / (1 + MathF.Exp(-logit)) - y;
        var gw1 = new float[6]; var gb1 = new float[3]; var gw2 = new float[3];
        for (int i = 0; i < 3; i++)
        {
            gw2[i] = dlogit * h[i];
            float dz = dlogit * w2[i] * (1 - h[i] * h[i]);
            gb1[i] = dz;
            gw1[2 * i] = dz * x[0];
            gw1[2 * i + 1] = dz * x[1];
        }
        return [gw1, gb1, gw2, [dlogit]];
    }
}
