using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using static Functional.AD.Np;

namespace Benchmarks;

/// <summary>The XOR net's parameters (as in Examples/Xor).</summary>
public record XorParams(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

/// <summary>The XOR model and a gradient derived by hand, shared by the jit benchmarks.</summary>
public static class XorModel
{
    public static readonly Expression<Func<Tensor, Tensor>> Sigmoid = x => 1.0 / (1 + Exp(-x));
    public static readonly Expression<Func<XorParams, Tensor, Tensor>> Net = (p, x) => Sigmoid.Invoke(Dot(p.W2, Tanh(Dot(p.W1, x) + p.B1)) + p.B2);
    public static readonly Expression<Func<XorParams, Tensor, Tensor, Tensor>> Loss =
        (p, x, y) => Let(Net.Invoke(p, x), o => -y * Log(o) - (1 - y) * Log(1 - o));

    public static XorParams Init() => Tree.Normal(PrngKey.Create(0), new XorParams(Zeros([3, 2]), Zeros([3]), Zeros([3]), Zeros([])));

    static readonly int[] D32 = [3, 2], D3 = [3], D0 = [];

    /// <summary>
    /// The gradient by hand: h = tanh(W1 x + b1), o = sigmoid(W2 . h + b2); for the cross-entropy loss dL/dz = o - y,
    /// so gW2 = (o - y) h, gb2 = o - y, gb1 = (o - y) W2 (1 - h^2), gW1 = gb1 x^T. Allocates its four outputs.
    /// </summary>
    public static XorParams HandGrad(XorParams p, Tensor x, Tensor y)
    {
        var gW1 = new float[6]; var gB1 = new float[3]; var gW2 = new float[3]; var gB2 = new float[1];
        HandGradInto(p, x, y, gW1, gB1, gW2, gB2);
        return new XorParams(Tensor.Adopt(gW1, D32), Tensor.Adopt(gB1, D3), Tensor.Adopt(gW2, D3), Tensor.Adopt(gB2, D0));
    }

    /// <summary>The same arithmetic into preallocated arrays (compute only).</summary>
    public static void HandGradInto(XorParams p, Tensor x, Tensor y, float[] gW1, float[] gB1, float[] gW2, float[] gB2)
    {
        var w1 = p.W1.Span<float>(); var b1 = p.B1.Span<float>(); var w2 = p.W2.Span<float>(); float b2 = p.B2.Span<float>()[0];
        var xs = x.Span<float>(); float x0 = xs[0], x1 = xs[1]; float yv = y.Span<float>()[0];
        float h0 = MathF.Tanh(w1[0] * x0 + w1[1] * x1 + b1[0]);
        float h1 = MathF.Tanh(w1[2] * x0 + w1[3] * x1 + b1[1]);
        float h2 = MathF.Tanh(w1[4] * x0 + w1[5] * x1 + b1[2]);
        float z = w2[0] * h0 + w2[1] * h1 + w2[2] * h2 + b2;
        float o = 1 / (1 + MathF.Exp(-z));
        float dz = o - yv;
        gW2[0] = dz * h0; gW2[1] = dz * h1; gW2[2] = dz * h2; gB2[0] = dz;
        float d0 = dz * w2[0] * (1 - h0 * h0), d1 = dz * w2[1] * (1 - h1 * h1), d2 = dz * w2[2] * (1 - h2 * h2);
        gB1[0] = d0; gB1[1] = d1; gB1[2] = d2;
        gW1[0] = d0 * x0; gW1[1] = d0 * x1; gW1[2] = d1 * x0; gW1[3] = d1 * x1; gW1[4] = d2 * x0; gW1[5] = d2 * x1;
    }
}

/// <summary>XOR loss + gradient for one example: jitted vs hand-written, with a breakdown of the jit's fixed costs.</summary>
public class JitXor
{
    XorParams p = null!;
    Tensor x = null!, y = null!;
    Func<XorParams, Tensor, Tensor, XorParams> jitted = null!, plain = null!, unpack = null!;
    Func<Tensor, Tensor> identity = null!;
    readonly float[] gW1 = new float[6], gB1 = new float[3], gW2 = new float[3], gB2 = new float[1];
    static readonly int[] D32 = [3, 2], D3 = [3], D0 = [];

    [GlobalSetup]
    public void Setup()
    {
        p = XorModel.Init();
        x = new Tensor(new float[] { 0, 1 });
        y = new Tensor(1.0);
        var grad = Ad.Grad(XorModel.Loss);
        jitted = grad.Jit();
        plain = grad.Compile();
        Expression<Func<XorParams, Tensor, Tensor, XorParams>> repack = (q, a, b) => q;
        unpack = repack.Jit();
        Expression<Func<Tensor, Tensor>> id = a => a;
        identity = id.Jit();
        var (e, j) = (XorModel.HandGrad(p, x, y), jitted(p, x, y));
        if (!e.W1.AllClose(j.W1, 1e-4, 1e-6) || !e.B2.AllClose(j.B2, 1e-4, 1e-6)) throw new InvalidOperationException("jitted gradient differs from the hand-written one");
    }

    [Benchmark(Baseline = true, Description = "hand-written, allocating outputs")]
    public XorParams HandWritten() => XorModel.HandGrad(p, x, y);

    [Benchmark(Description = "Ad.Jit(Ad.Grad(loss))")]
    public XorParams Jitted() => jitted(p, x, y);

    [Benchmark(Description = "Compile() of Ad.Grad(loss) (un-jitted)")]
    public XorParams Unjitted() => plain(p, x, y);

    [Benchmark(Description = "breakdown: compute (hand-written into preallocated arrays)")]
    public float[] Compute() { XorModel.HandGradInto(p, x, y, gW1, gB1, gW2, gB2); return gW1; }

    [Benchmark(Description = "breakdown: allocation (4 tensors + record)")]
    public XorParams Allocation() =>
        new(Tensor.Adopt(new float[6], D32), Tensor.Adopt(new float[3], D3), Tensor.Adopt(new float[3], D3), Tensor.Adopt(new float[1], D0));

    [Benchmark(Description = "breakdown: dispatch (jitted x => x)")]
    public Tensor Dispatch() => identity(x);

    [Benchmark(Description = "breakdown: dispatch + unpacking + guard of 6 leaves + repacking (jitted (p, x, y) => p)")]
    public XorParams Unpacking() => unpack(p, x, y);
}

/// <summary>Time to transform and compile: Ad.Jit(Ad.Grad(loss)) and its first call (which compiles), warm.</summary>
[MinColumn]
public class JitCompile
{
    XorParams p = null!;
    Tensor x = null!, y = null!;

    [GlobalSetup]
    public void Setup() { p = XorModel.Init(); x = new Tensor(new float[] { 0, 1 }); y = new Tensor(1.0); }

    [Benchmark(Description = "Ad.Grad(loss).Compile() (un-jitted)", Baseline = true)]
    public XorParams GradCompile() => Ad.Grad(XorModel.Loss).Compile()(p, x, y);

    [Benchmark(Description = "Ad.Jit(Ad.Grad(loss)) + first call")]
    public XorParams GradJit() => Ad.Jit(Ad.Grad(XorModel.Loss))(p, x, y);
}

/// <summary>The blocked GEMM, float32, square: GFLOP/s = 2 N^3 / time.</summary>
[MinColumn]
public class JitGemm
{
    float[] a = null!, b = null!, c = null!;

    [Params(512, 1024)] public int N;
    [Params(1, 2)] public int Threads;

    [GlobalSetup]
    public void Setup()
    {
        var r = new System.Random(1);
        a = Enumerable.Range(0, N * N).Select(_ => (float)r.NextDouble()).ToArray();
        b = Enumerable.Range(0, N * N).Select(_ => (float)r.NextDouble()).ToArray();
        c = new float[N * N];
    }

    TorchSharp.torch.Tensor ta = null!, tb = null!;

    [GlobalSetup(Target = nameof(TorchMm))]
    public void SetupTorch()
    {
        Setup();
        TorchSharp.torch.set_num_threads(Threads);
        ta = TorchSharp.torch.tensor(a, [N, N]);
        tb = TorchSharp.torch.tensor(b, [N, N]);
    }

    [Benchmark(Baseline = true, Description = "Gemm float32 NxNxN")]
    public float[] Gemm()
    {
        Array.Clear(c);
        Functional.AD.Gemm.Multiply(a, b, c, N, N, N, false, false, Threads);
        return c;
    }

    /// <summary>TorchSharp's <c>mm</c>, libtorch on the same number of threads (its result freed at once).</summary>
    [Benchmark(Description = "TorchSharp torch.mm, same threads")]
    public long TorchMm()
    {
        using var r = TorchSharp.torch.mm(ta, tb);
        return r.shape[0];
    }
}

/// <summary>MLP parameters (784-256-256-10).</summary>
public record MlpParams(Tensor W1, Tensor B1, Tensor W2, Tensor B2, Tensor W3, Tensor B3);

/// <summary>
/// MLP 784-256-256-10, batch 128, tanh, softmax cross-entropy, forward + backward: jitted vs a hand-written eager
/// backward pass over Np calls (the TorchSharp baseline comes with the Torch backend).
/// </summary>
public class JitMlp
{
    static readonly Expression<Func<MlpParams, Tensor, Tensor, Tensor>> Loss = (p, x, y) =>
        -Mean(Sum(y * LogSoftmax(MatMul(Tanh(MatMul(Tanh(MatMul(x, p.W1) + p.B1), p.W2) + p.B2), p.W3) + p.B3, -1), -1, false), null, false);

    MlpParams p = null!;
    Tensor x = null!, y = null!;
    Func<MlpParams, Tensor, Tensor, MlpParams> jitted = null!;

    [Params(1, 2)] public int Threads;

    int savedThreads;

    [GlobalSetup]
    public void Setup()
    {
        savedThreads = Functional.AD.Gemm.MaxThreads;
        Functional.AD.Gemm.MaxThreads = Threads;
        p = Tree.Map(w => w * 0.05, Tree.Normal(PrngKey.Create(1), new MlpParams(Zeros([784, 256]), Zeros([256]), Zeros([256, 256]), Zeros([256]), Zeros([256, 10]), Zeros([10]))));
        x = Rng.Normal(PrngKey.Create(2), [128, 784]);
        y = OneHot(new Tensor(Enumerable.Range(0, 128).Select(k => (float)(k % 10)).ToArray()), 10, DType.Float32);
        jitted = Ad.Jit(Ad.Grad(Loss));
        var (e, j) = (HandWritten(), jitted(p, x, y));
        if (!e.W1.AllClose(j.W1, 1e-3, 1e-5) || !e.B3.AllClose(j.B3, 1e-3, 1e-5)) throw new InvalidOperationException("jitted MLP gradient differs from the hand-written one");
    }

    [GlobalCleanup]
    public void Cleanup() => Functional.AD.Gemm.MaxThreads = savedThreads;

    /// <summary>Forward, then backward by hand: dlogits = (softmax - y) / batch, and the chain rule through tanh layers.</summary>
    [Benchmark(Baseline = true, Description = "hand-written eager (Np) forward+backward")]
    public MlpParams HandWritten()
    {
        var h1 = Tanh(MatMul(x, p.W1) + p.B1);
        var h2 = Tanh(MatMul(h1, p.W2) + p.B2);
        var logits = MatMul(h2, p.W3) + p.B3;
        var dlogits = (Softmax(logits, -1) - y) / (double)x.Shape[0];
        var gW3 = MatMul(Transpose(h2, null), dlogits);
        var gB3 = Sum(dlogits, 0, false);
        var dh2 = MatMul(dlogits, Transpose(p.W3, null)) * (1 - h2 * h2);
        var gW2 = MatMul(Transpose(h1, null), dh2);
        var gB2 = Sum(dh2, 0, false);
        var dh1 = MatMul(dh2, Transpose(p.W2, null)) * (1 - h1 * h1);
        var gW1 = MatMul(Transpose(x, null), dh1);
        var gB1 = Sum(dh1, 0, false);
        return new MlpParams(gW1, gB1, gW2, gB2, gW3, gB3);
    }

    [Benchmark(Description = "Ad.Jit(Ad.Grad(loss))")]
    public MlpParams Jitted() => jitted(p, x, y);
}

/// <summary>
/// A long elementwise chain on large tensors: jitted (one fused vector loop, only the result written) vs plain
/// Compile() (one eager TensorPrimitives call and one fresh array per node).
/// </summary>
[MinColumn]
public class JitFusion
{
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Chain = (x, y, s) =>
        Tanh(x * y + 2.0) * Exp(-x) - Sigmoid(y) / (1 + Abs(x)) + Log(1 + x * x) * s + Where(Greater(x, y), Sqrt(Abs(y)), -x);

    Tensor x = null!, y = null!, s = null!;
    Func<Tensor, Tensor, Tensor, Tensor> jitted = null!, plain = null!;

    [Params(10_000, 1_000_000)] public int N;

    [GlobalSetup]
    public void Setup()
    {
        x = Rng.Normal(PrngKey.Create(1), [N]);
        y = Rng.Normal(PrngKey.Create(2), [N]);
        s = Reshape(new Tensor(new float[] { 0.5f }), []);
        jitted = Chain.Jit();
        plain = Chain.Compile();
        if (!plain(x, y, s).AllClose(jitted(x, y, s), 1e-4, 1e-5)) throw new InvalidOperationException("fused chain differs from Compile()");
    }

    [Benchmark(Baseline = true, Description = "Compile() (eager kernels, an array per node)")]
    public Tensor Eager() => plain(x, y, s);

    [Benchmark(Description = "Ad.Jit (one fused loop)")]
    public Tensor Fused() => jitted(x, y, s);
}

/// <summary>
/// An elementwise chain through the primitives with vector forms (Relu, Maximum, Pow, Clip, Log1p) on a float32
/// [256, 256] matrix: jitted (the whole chain one fused vector loop, only the result written) vs plain Compile()
/// (one eager TensorPrimitives call and one fresh array per node).
/// </summary>
[MinColumn, MemoryDiagnoser]
public class JitFusionVectorPrims
{
    /// <summary>The chain; <c>Ad.Show(Chain, x, y)</c> marks every node <c>fused #1</c>.</summary>
    public static readonly Expression<Func<Tensor, Tensor, Tensor>> Chain = (x, y) =>
        Relu(x * y + 0.5) + Maximum(x, y) * 0.5 + Pow(Abs(x) + 1, 1.5) + Clip(y, -1.0, 1.0) + Log1p(Abs(x));

    Tensor x = null!, y = null!;
    Func<Tensor, Tensor, Tensor> jitted = null!, plain = null!;

    [GlobalSetup]
    public void Setup()
    {
        x = Rng.Normal(PrngKey.Create(1), [256, 256]);
        y = Rng.Normal(PrngKey.Create(2), [256, 256]);
        jitted = Chain.Jit();
        plain = Chain.Compile();
        if (!plain(x, y).AllClose(jitted(x, y), 1e-4, 1e-5)) throw new InvalidOperationException("fused chain differs from Compile()");
    }

    [Benchmark(Baseline = true, Description = "Compile() (eager kernels, an array per node)")]
    public Tensor Eager() => plain(x, y);

    [Benchmark(Description = "Ad.Jit (one fused loop)")]
    public Tensor Fused() => jitted(x, y);
}
