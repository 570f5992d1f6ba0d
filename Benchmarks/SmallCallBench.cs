using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using static Functional.AD.Np;

namespace Benchmarks;

/// <summary>
/// Issue 20's small calls, side by side with the hand-written baselines of <c>XorHand.cs</c> in one run. Every class
/// has a <c>Round</c> parameter: BenchmarkDotNet runs all methods of round 1, then all of round 2, and so on, so the
/// rounds interleave the library and its baseline, and the ratio to report is the median over the rounds.
/// </summary>
public static class SmallCalls
{
    /// <summary>The XOR net's parameters as the hand-written baselines take them.</summary>
    public static (float[] W1, float[] B1, float[] W2, float B2) Arrays(XorParams p) =>
        (p.W1.ToFloatArray(), p.B1.ToFloatArray(), p.W2.ToFloatArray(), p.B2.ToFloatArray()[0]);
}

/// <summary>A gradient as four plain arrays (the variant of <c>XorHand.GradAlloc</c> that returns a record like ours).</summary>
public sealed record XorArrays(float[] W1, float[] B1, float[] W2, float[] B2);

/// <summary>
/// XOR loss gradient for one example (float32): <c>Ad.Jit(Ad.Grad(loss))</c> returns a record of four tensors;
/// <c>XorHand.GradAlloc</c> returns the loss, three fresh arrays and gb2. The breakdown rows time the parts of a jitted
/// call on their own.
/// </summary>
[MemoryDiagnoser, MinColumn]
public class SmallXor
{
    /// <summary>The round (see <see cref="SmallCalls"/>).</summary>
    [Params(1, 2, 3, 4, 5)] public int Round;

    XorParams p = null!;
    Tensor x = null!, y = null!;
    float[] w1 = null!, b1 = null!, w2 = null!;
    float b2, x0, x1, yv;
    Func<XorParams, Tensor, Tensor, XorParams> jitted = null!, unpack = null!;
    Func<Tensor, Tensor> identity = null!;
    readonly float[] gW1 = new float[6], gB1 = new float[3], gW2 = new float[3];
    static readonly Aval A32 = new([3, 2], DType.Float32), A3 = new([3], DType.Float32), A0 = new([], DType.Float32);

    [GlobalSetup]
    public void Setup()
    {
        p = XorModel.Init();
        (x0, x1, yv) = (0, 1, 1);
        x = new Tensor(new[] { x0, x1 });
        y = Tensor.Scalar(yv, DType.Float32);
        (w1, b1, w2, b2) = SmallCalls.Arrays(p);
        jitted = Ad.Jit(Ad.Grad(XorModel.Loss));
        Expression<Func<XorParams, Tensor, Tensor, XorParams>> repack = (q, a, b) => q;
        unpack = repack.Jit();
        Expression<Func<Tensor, Tensor>> id = a => a;
        identity = id.Jit();
        var (_, hw1, _, hw2, hb2) = XorHand.GradAlloc(w1, b1, w2, b2, x0, x1, yv);
        var j = jitted(p, x, y);
        if (!j.W1.AllClose(new Tensor(hw1, [3, 2]), 1e-4, 1e-6) || !j.W2.AllClose(new Tensor(hw2), 1e-4, 1e-6) || Math.Abs((double)j.B2 - hb2) > 1e-5)
            throw new InvalidOperationException("the jitted gradient differs from XorHand's");
    }

    [Benchmark(Baseline = true, Description = "XorHand.GradAlloc (3 arrays + loss + gb2)")]
    public (float, float[], float[], float[], float) GradAlloc() => XorHand.GradAlloc(w1, b1, w2, b2, x0, x1, yv);

    [Benchmark(Description = "XorHand.Grad into a record of 4 fresh arrays")]
    public XorArrays GradRecord()
    {
        var r = new XorArrays(new float[6], new float[3], new float[3], new float[1]);
        XorHand.Grad(w1, b1, w2, b2, x0, x1, yv, r.W1, r.B1, r.W2, out r.B2[0]);
        return r;
    }

    [Benchmark(Description = "hand-written, wrapping its results in 4 library tensors (the old baseline)")]
    public XorParams HandTensors() => XorModel.HandGrad(p, x, y);

    [Benchmark(Description = "Ad.Jit(Ad.Grad(loss))")]
    public XorParams Jitted() => jitted(p, x, y);

    [Benchmark(Description = "breakdown: compute (XorHand.Grad into preallocated arrays)")]
    public float Compute() => XorHand.Grad(w1, b1, w2, b2, x0, x1, yv, gW1, gB1, gW2, out _);

    [Benchmark(Description = "breakdown: allocation (4 arrays, 4 tensors, the record)")]
    public XorParams Allocation() =>
        new(new Tensor(new float[6], A32.Canonical), new Tensor(new float[3], A3.Canonical), new Tensor(new float[3], A3.Canonical), new Tensor(new float[1], A0.Canonical));

    [Benchmark(Description = "breakdown: dispatch + guard of 1 leaf (jitted x => x)")]
    public Tensor Guard() => identity(x);

    [Benchmark(Description = "breakdown: dispatch + unpack + guard of 6 leaves + repack (jitted (p, x, y) => p)")]
    public XorParams Unpack() => unpack(p, x, y);
}

/// <summary>
/// XOR mean gradient over a batch of 100 (float32), the mean inside the jitted function, against
/// <c>XorBatchTP</c> (TensorPrimitives over columns, buffers allocated once, gradients into preallocated arrays).
/// </summary>
[MemoryDiagnoser, MinColumn]
public class SmallXorBatch
{
    /// <summary>The round (see <see cref="SmallCalls"/>).</summary>
    [Params(1, 2, 3, 4, 5)] public int Round;

    const int B = 100;
    XorParams p = null!;
    Tensor xs = null!, ys = null!;
    float[] w1 = null!, b1 = null!, w2 = null!, X = null!, X0 = null!, X1 = null!, Y = null!;
    float b2;
    readonly float[] gW1 = new float[6], gB1 = new float[3], gW2 = new float[3];
    XorBatchTP tp = null!;
    Func<XorParams, Tensor, Tensor, XorParams> meanJit = null!, perExample = null!;

    [GlobalSetup]
    public void Setup()
    {
        p = XorModel.Init();
        (w1, b1, w2, b2) = SmallCalls.Arrays(p);
        var rng = new Random(0);
        X = new float[2 * B]; X0 = new float[B]; X1 = new float[B]; Y = new float[B];
        for (int i = 0; i < B; i++)
        {
            int a = rng.Next(2), b = rng.Next(2);
            (X[2 * i], X[2 * i + 1], X0[i], X1[i], Y[i]) = (a, b, a, b, a ^ b);
        }
        xs = new Tensor(X, [B, 2]);
        ys = new Tensor(Y);
        tp = new XorBatchTP(B);
        var vg = Ad.Vmap(Ad.Grad(XorModel.Loss), inAxes: [null, 0, 0]);
        Expression<Func<XorParams, Tensor, Tensor, XorParams>> mean = (q, a, t) => Let(vg.Invoke(q, a, t), g =>
            new XorParams(Mean(g.W1, 0, false), Mean(g.B1, 0, false), Mean(g.W2, 0, false), Mean(g.B2, 0, false)));
        meanJit = Ad.Jit(mean);
        perExample = Ad.Jit(vg);
        var j = meanJit(p, xs, ys);
        tp.Grad(w1, b1, w2, b2, X0, X1, Y, gW1, gB1, gW2, out float gb2);
        if (!j.W1.AllClose(new Tensor(gW1, [3, 2]), 1e-4, 1e-5) || Math.Abs((double)j.B2 - gb2) > 1e-5)
            throw new InvalidOperationException("the jitted mean gradient differs from XorBatchTP's");
    }

    [Benchmark(Baseline = true, Description = "XorBatchTP (TensorPrimitives over columns)")]
    public float TP() => tp.Grad(w1, b1, w2, b2, X0, X1, Y, gW1, gB1, gW2, out _);

    [Benchmark(Description = "XorHand.GradBatch (one scalar loop)")]
    public float ScalarLoop() => XorHand.GradBatch(w1, b1, w2, b2, X, Y, B, gW1, gB1, gW2, out _);

    [Benchmark(Description = "Ad.Jit of Mean(Vmap(Grad(loss))), one call")]
    public XorParams Jitted() => meanJit(p, xs, ys);

    /// <summary>The seed notebook's form: the per-example gradients from one jitted call, then the mean of each leaf outside it.</summary>
    [Benchmark(Description = "Ad.Jit(Ad.Vmap(Ad.Grad(loss))), then Mean per leaf (the notebook's form)")]
    public XorParams Notebook()
    {
        var g = perExample(p, xs, ys);
        return new XorParams(Mean(g.W1, 0, false), Mean(g.B1, 0, false), Mean(g.W2, 0, false), Mean(g.B2, 0, false));
    }
}

/// <summary>
/// Transform, compile and first call in a warm process (the library loaded and jitted, the function new each time),
/// with the parts on their own: <c>Ad.Grad</c> alone, then also <c>Ad.Jit</c> (which compiles nothing before the
/// first call), then the first call (reading, shape inference, code generation, <c>Compile()</c> of the specialisation).
/// </summary>
[MinColumn]
public class SmallFirstCall
{
    XorParams p = null!;
    Tensor x = null!, y = null!;

    [GlobalSetup]
    public void Setup() { p = XorModel.Init(); x = new Tensor(new float[] { 0, 1 }); y = Tensor.Scalar(1, DType.Float32); }

    [Benchmark(Description = "Ad.Grad(loss)")]
    public object Grad() => Ad.Grad(XorModel.Loss);

    [Benchmark(Description = "Ad.Jit(Ad.Grad(loss)), not called")]
    public object GradJit() => Ad.Jit(Ad.Grad(XorModel.Loss));

    [Benchmark(Baseline = true, Description = "Ad.Jit(Ad.Grad(loss)) + first call")]
    public XorParams GradJitCall() => Ad.Jit(Ad.Grad(XorModel.Loss))(p, x, y);
}
