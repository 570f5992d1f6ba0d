using System.Linq.Expressions;
using System.Reflection;
using Functional.AD.Testing;
using Functional.AD.Testing.Programs;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// The two Torch oracles of the random-program generator, registered into <see cref="Oracles.All"/> by
/// <see cref="Register"/> (this assembly references TorchSharp; the generator's assembly does not).
/// </summary>
public static class TorchOracles
{
    /// <summary>
    /// The TorchSharp-autograd oracle's relative tolerance for programs that call Digamma, Polygamma or Lgamma (Lgamma's
    /// derivative is Digamma): libtorch's float64 kernels for them are accurate to about 1e-9 relative (measured against
    /// mpmath in <c>GammaFamilyAccuracyTests</c>), so the 1e-9 of <see cref="AutogradOracle.Tolerance"/> would compare
    /// libtorch's rounding, not the derivative rules. This library's kernels are checked there to 1e-13.
    /// </summary>
    public const double GammaFamilyTolerance = 1e-7;

    /// <summary>Whether a program calls one of the functions that <see cref="GammaFamilyTolerance"/> covers.</summary>
    public static bool CallsGammaFamily(RandomProgram p) => p.Specs().Any(s => GammaCalls.In(s.Spec.Function));

    /// <summary>Finds a call whose primitive (read from the primitive table) is Digamma, Polygamma or Lgamma.</summary>
    sealed class GammaCalls : ExpressionVisitor
    {
        bool found;

        public static bool In(Expression e)
        {
            var v = new GammaCalls();
            v.Visit(e);
            return v.found;
        }

        protected override Expression VisitMethodCall(MethodCallExpression node)
        {
            found |= Prims.ForMethod(node.Method) is var p && (p == Prims.Digamma || p == Prims.Polygamma || p == Prims.Lgamma);
            return base.VisitMethodCall(node);
        }
    }

    /// <summary>The program and the gradient of its projection compiled with <c>JitTorch(TorchBackend.Cpu)</c>, against <c>Compile()</c>.</summary>
    public static IProgramOracle TorchVsCpu { get; } = new TorchVsCpuOracle();

    /// <summary>
    /// The program's terms evaluated with TorchSharp ops on leaves that require grad, differentiated by
    /// <c>torch.autograd.grad</c>, against <c>Ad.Grad(...).Compile()</c> on the CPU.
    /// </summary>
    public static IProgramOracle Autograd { get; } = new AutogradOracle();

    /// <summary>Both, in registry order.</summary>
    public static IReadOnlyList<IProgramOracle> All { get; } = [TorchVsCpu, Autograd];

    /// <summary>Adds both oracles to <see cref="Oracles.All"/> (idempotent).</summary>
    public static void Register()
    {
        foreach (var o in All) Oracles.Register(o);
    }

    internal static void Flatten(object? v, List<double> values, List<string> types)
    {
        switch (v)
        {
            case Tensor t: types.Add(t.Aval.ToString()); values.AddRange(t.AsType(DType.Float64).ToDoubleArray()); break;
            case double d: types.Add("double"); values.Add(d); break;
            case null: types.Add("null"); break;
            case FuzzParams r: Flatten(r.A, values, types); Flatten(r.B, values, types); Flatten(r.C, values, types); break;
            default:
                foreach (var f in v.GetType().GetFields().Where(f => f.Name.StartsWith("Item", StringComparison.Ordinal)).OrderBy(f => f.Name))
                    Flatten(f.GetValue(v), values, types);
                break;
        }
    }

    /// <summary>Every tensor of a result on the device, copied to the host; the device copies are freed.</summary>
    internal static object? ToHost(object? v)
    {
        switch (v)
        {
            case Tensor t when t.Storage is TorchStorage:
                var h = t.ToHost();
                t.DisposeDevice();
                return h;
            case Tensor or double or null: return v;
            case FuzzParams r: return new FuzzParams((Tensor)ToHost(r.A)!, (Tensor)ToHost(r.B)!, r.C);
            default:
                var type = v.GetType();
                if (!type.IsGenericType || !type.FullName!.StartsWith("System.ValueTuple", StringComparison.Ordinal)) return v;
                var items = type.GetFields().OrderBy(f => f.Name).Select(f => ToHost(f.GetValue(v))).ToArray();
                return Activator.CreateInstance(type, items);
        }
    }

    /// <summary>Null when the two results have the same leaf types and values within <paramref name="tolerance"/>, else why not.</summary>
    internal static string? Compare(string what, string left, object? a, string right, object? b, double tolerance)
    {
        List<double> x = new(), y = new(); List<string> tx = new(), ty = new();
        Flatten(a, x, tx); Flatten(b, y, ty);
        if (!tx.SequenceEqual(ty)) return $"{what}: {left} gives {string.Join(", ", tx)} but {right} gives {string.Join(", ", ty)}";
        for (int i = 0; i < x.Count; i++)
        {
            double err = ProgramOracleKit.Error(x[i], y[i]);
            if (err > tolerance) return $"{what}: component {i}: {left} gives {x[i]:R}, {right} {y[i]:R} (error {err:G3} > {tolerance:G3})";
        }
        return null;
    }

    /// <summary>
    /// True when <c>Compile()</c> of the program changes its result beyond <paramref name="tolerance"/> under relative
    /// input perturbations of 1e-12: a branch condition that is zero up to rounding, where another backend's rounding
    /// may legitimately take the other branch.
    /// </summary>
    internal static bool DiscontinuousWithinRounding(RandomProgram p, object[] inputs, double tolerance)
    {
        var plain = p.Function.Compile(preferInterpretation: true);
        var at = ProgramOracleKit.Call(plain, inputs);
        var v = p.Layout.Flatten(inputs[0]);
        var rng = new Random(p.Seed);
        for (int d = 0; d < 4; d++)
        {
            var moved = (object[])inputs.Clone();
            moved[0] = p.Layout.Unflatten(v.Select(x => x * (1 + 1e-12 * (rng.NextDouble() * 2 - 1))).ToArray());
            if (Compare("perturbed", "a", at, "b", ProgramOracleKit.Call(plain, moved), tolerance) is not null) return true;
        }
        return false;
    }
}

/// <summary>
/// The Torch backend against the CPU: <c>JitTorch(TorchBackend.Cpu)</c> of the program and of the gradient of its scalar
/// projection (<c>Ad.Grad</c>, lowered through the Torch table) against plain <c>Compile()</c>, float64: same leaf
/// types and shapes, values within <c>1e-9 max(1, |a|, |b|)</c> (libtorch's kernels round differently in the last
/// bits, amplified by at most the program's bound). An input where <c>Compile()</c> itself is discontinuous within
/// rounding is Skipped, as in the Jit oracle.
/// </summary>
sealed class TorchVsCpuOracle : IProgramOracle
{
    public string Name => "Torch vs CPU";
    public string Catches => "Torch lowering bugs: a lowering with the wrong semantics (axes, broadcasting, keepdims, negative indices), weak scalars and dtypes on the device, conditionals and Np.Let lowered wrongly, results aliasing arguments or freed too early, the lowered transposes of products, reductions and joins";

    public const double Tolerance = 1e-9;

    static readonly MethodInfo jit = typeof(TorchJit).GetMethod(nameof(TorchJit.Jit))!;

    internal static Delegate JitTorch(LambdaExpression f)
    {
        try { return (Delegate)jit.MakeGenericMethod(f.Type).Invoke(null, [f, TorchBackend.Cpu, Array.Empty<int>()])!; }
        catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    public OracleResult Check(RandomProgram p)
    {
        var inputs = p.Inputs();
        try
        {
            var f = p.Function;
            var why = TorchOracles.Compare("the program", "Compile()", ProgramOracleKit.Call(f.Compile(preferInterpretation: true), inputs),
                "JitTorch", TorchOracles.ToHost(ProgramOracleKit.Call(JitTorch(f), inputs)), Tolerance);
            if (why is null)
            {
                var g = ProgramOracleKit.Grad(ProgramOracleKit.Projection(p, ProgramOracleKit.Weights(p, p.Seed)));
                why = TorchOracles.Compare("its gradient", "Compile()", ProgramOracleKit.Call(g.Compile(preferInterpretation: true), inputs),
                    "JitTorch", TorchOracles.ToHost(ProgramOracleKit.Call(JitTorch(g), inputs)), Tolerance);
            }
            if (why is null) return new(Verdict.Pass, "JitTorch equals Compile() on the program and its gradient");
            if (TorchOracles.DiscontinuousWithinRounding(p, inputs, Tolerance))
                return new(Verdict.Skipped, $"discontinuous within rounding at this input ({why})");
            return ProgramOracleKit.Fail(p, why, inputs, p.Seed);
        }
        catch (Exception e)
        {
            return ProgramOracleKit.Fail(p, $"threw {e.GetType().Name}: {e.Message}", inputs, p.Seed);
        }
    }
}

/// <summary>
/// TorchSharp's autograd against <c>Ad.Grad</c>, independent of our JVP and transpose rules and of our reader and
/// lowering: each term of the program is evaluated with a TorchSharp op (<see cref="TorchTerms"/>) on float64 leaves
/// with <c>requires_grad</c> (a double leaf is a rank-0 tensor), the scalar projection <c>Σ Sum(out_i * w_i)</c> is
/// formed with torch ops, and <c>torch.autograd.grad</c> differentiates it; the result must equal
/// <c>Ad.Grad(projection).Compile()</c> on the CPU backend within <c>1e-9 max(1, |a|, |b|)</c> per component. The
/// forward value of the interpretation is checked against <c>Compile()</c> first (an interpretation that computes
/// something else fails loudly instead of comparing gradients of different functions). A mismatch at an input where
/// the program is discontinuous within rounding, or not smooth (the central differences along the mismatch with
/// steps h and 2h disagree: a tie of Maximum or a kink, where the two autodiffs may pick different one-sided
/// derivatives), is Skipped; a program calling a user's function (an expression torch cannot evaluate) is Skipped.
/// </summary>
sealed class AutogradOracle : IProgramOracle
{
    public string Name => "TorchSharp autograd vs Ad.Grad";
    public string Catches => "a wrong JVP or transpose rule, a wrong unbroadcast, a lost or duplicated cotangent, a reader bug (the program read as another function): anything where our reverse mode disagrees with an independent, mature autodiff, without the noise of finite differences";

    public const double Tolerance = 1e-9;
    /// <summary>Gradients that differ by at most this times the largest value the program computes agree up to that value's rounding.</summary>
    public const double CancellationTolerance = 1e-12;
    const double Step = 1e-5;

    public OracleResult Check(RandomProgram p)
    {
        var inputs = p.Inputs();
        try
        {
            // a spec with no torch form (the fixed-shape vocabulary) is replaced by a sum of its operand; a user's function cannot be
            if (TorchTerms.WithTorchForms(p) is not { } q) return new(Verdict.Skipped, "the program calls a user's function");
            p = q;
            var weights = ProgramOracleKit.Weights(p, p.Seed);
            var plain = p.Function.Compile(preferInterpretation: true);
            double expected = ProgramOracleKit.Project(p, ProgramOracleKit.Call(plain, inputs), weights);
            var ours = p.Layout.Flatten(ProgramOracleKit.Call(ProgramOracleKit.Grad(ProgramOracleKit.Projection(p, weights)).Compile(preferInterpretation: true), inputs)!);
            var (value, theirs) = TorchTerms.ValueAndGrad(p, inputs, weights);
            double tolerance = TorchOracles.CallsGammaFamily(p) ? TorchOracles.GammaFamilyTolerance : Tolerance;
            double ev = ProgramOracleKit.Error(value, expected);
            if (ev > tolerance)
            {
                if (TorchOracles.DiscontinuousWithinRounding(p, inputs, Tolerance))
                    return new(Verdict.Skipped, $"discontinuous within rounding at this input (the projection: torch {value:R}, Compile() {expected:R})");
                return ProgramOracleKit.Fail(p, $"the TorchSharp evaluation of the projection gives {value:R}, Compile() gives {expected:R} (error {ev:G3}): the two compute different functions", inputs, p.Seed);
            }
            if (theirs.Length != ours.Length)
                return ProgramOracleKit.Fail(p, $"Ad.Grad has {ours.Length} components, torch.autograd.grad {theirs.Length}", inputs, p.Seed);
            int worst = -1; double worstErr = 0;
            for (int i = 0; i < ours.Length; i++)
            {
                double err = ProgramOracleKit.Error(ours[i], theirs[i]);
                if (err > worstErr) { worstErr = err; worst = i; }
            }
            if (worstErr <= tolerance) return new(Verdict.Pass, $"Ad.Grad equals torch.autograd.grad within {tolerance:G3} ({ours.Length} components)");
            var why = $"component {worst}: Ad.Grad gives {ours[worst]:R}, torch.autograd.grad {theirs[worst]:R} (error {worstErr:G3} > {tolerance:G3})";
            if (TorchOracles.DiscontinuousWithinRounding(p, inputs, Tolerance))
                return new(Verdict.Skipped, $"discontinuous within rounding at this input ({why})");
            // a gradient summed from terms as large as the program's values carries their rounding: where the values
            // dwarf the gradient (a Sinh of 27 is 2e11), two autodiffs that sum in other orders differ by that much
            if (Math.Abs(ours[worst] - theirs[worst]) <= CancellationTolerance * ProgramOracleKit.LargestOnTheWay(p, inputs))
                return new(Verdict.Skipped, $"a difference within the rounding of the program's largest values ({CancellationTolerance:G3} of the largest value on the way; {why})");
            if ((!double.IsFinite(ours[worst]) || !double.IsFinite(theirs[worst])) && ProgramOracleKit.OverflowsOnTheWay(p, inputs))
                return new(Verdict.Skipped, $"a value on the way overflows, and an infinite partial times a zero cotangent is NaN in one autodiff and 0 in the other ({why})");
            // along the direction of the disagreement: if the differences with h and 2h disagree, the point is a kink
            var u = ours.Select((g, i) => g - theirs[i]).ToArray();
            double norm = Math.Sqrt(u.Sum(x => x * x));
            if (norm > 0 && double.IsFinite(norm))
            {
                for (int i = 0; i < u.Length; i++) u[i] /= norm;
                var x0 = p.Layout.Flatten(inputs[0]);
                double F(double[] flat) { var a = (object[])inputs.Clone(); a[0] = p.Layout.Unflatten(flat); return ProgramOracleKit.Project(p, ProgramOracleKit.Call(plain, a), weights); }
                double d1 = (F(ProgramOracleKit.Axpy(x0, Step, u)) - F(ProgramOracleKit.Axpy(x0, -Step, u))) / (2 * Step);
                double d2 = (F(ProgramOracleKit.Axpy(x0, 2 * Step, u)) - F(ProgramOracleKit.Axpy(x0, -2 * Step, u))) / (4 * Step);
                if (double.IsNaN(d1) || ProgramOracleKit.Error(d1, d2) > 1e-6)
                    return new(Verdict.Skipped, $"not smooth at this input ({why}; differences along the mismatch {d1:G10} (h) and {d2:G10} (2h))");
                double o = ours.Select((g, i) => g * u[i]).Sum(), t = theirs.Select((g, i) => g * u[i]).Sum();
                why += $"; along the mismatch, central differences give {d1:G12}, Ad.Grad {o:G12}, torch {t:G12}";
            }
            return ProgramOracleKit.Fail(p, why, inputs, p.Seed);
        }
        catch (Exception e)
        {
            return ProgramOracleKit.Fail(p, $"threw {e.GetType().Name}: {e.Message}", inputs, p.Seed);
        }
    }
}

/// <summary>
/// An interpreter of random programs' terms in TorchSharp eager ops: the forward computation that TorchSharp's autograd
/// records and differentiates. It shares nothing with our reader, rules or lowering: it walks the generator's terms.
/// </summary>
internal static class TorchTerms
{
    /// <summary>
    /// False when a term calls a user's function (an expression over our tensors) or a spec of the table that has no
    /// TorchSharp form below (a primitive added to the table is fuzzed by every other oracle at once; this one needs
    /// its torch line in <see cref="Forms"/>).
    /// </summary>
    public static bool CanEvaluate(RandomProgram p)
    {
        static bool Ok(Term t) => t.Op != Op.User && (t.SpecOp is not { } o || Forms.ContainsKey(o.Name)) && t.Args.All(Ok);
        return p.Outputs.All(Ok);
    }

    /// <summary>
    /// The program with each term applying a spec that has no torch form below replaced by its first operand when that
    /// has its shape, else by the sum of that operand broadcast to its shape (so the gradient still flows through the
    /// rest of the program; the replaced specs are checked by every other oracle); null when it calls a user's function.
    /// </summary>
    public static RandomProgram? WithTorchForms(RandomProgram p)
    {
        if (CanEvaluate(p)) return p;
        static bool HasUser(Term t) => t.Op == Op.User || t.Args.Any(HasUser);
        if (p.Outputs.Any(HasUser)) return null;
        var sum = SpecOp.All.Single(o => o.Name == "Sum");
        Term Replace(Term t)
        {
            var args = t.Args.Select(Replace).ToArray();
            if (t.SpecOp is { } o && !Forms.ContainsKey(o.Name))
            {
                var a = args[0];
                if (a.Shape is { } s && t.Shape is { } ts && s.SequenceEqual(ts)) return a;
                var total = a.Shape!.Length == 0 ? a : new Term(Op.Spec, [], [a], new SpecCall(sum, new Reduction(null, false)));
                return t.Shape!.Length == 0 ? total : new Term(Op.BroadcastTo, t.Shape, [total]);
            }
            return args.SequenceEqual(t.Args) ? t : new Term(t.Op, t.Shape, args, t.Attr);
        }
        return p.WithOutputs(p.Outputs.Select(Replace).ToArray());
    }

    /// <summary>The torch form of each spec of the table, by spec name (elementwise, reductions, along an axis).</summary>
    static readonly Dictionary<string, Func<TT[], Term, TT>> Forms = new()
    {
        ["Neg"] = (a, t) => -a[0],
        ["Exp"] = (a, t) => a[0].exp(),
        ["Log"] = (a, t) => a[0].log(),
        ["Tanh"] = (a, t) => a[0].tanh(),
        ["Sin"] = (a, t) => a[0].sin(),
        ["Cos"] = (a, t) => a[0].cos(),
        ["Sqrt"] = (a, t) => a[0].sqrt(),
        ["Abs"] = (a, t) => a[0].abs(),
        ["Sigmoid"] = (a, t) => a[0].sigmoid(),
        // torch's softplus is x above its threshold; 30 keeps it within 1e-13 of log(1 + e^x) there
        ["Softplus"] = (a, t) => torch.nn.functional.softplus(a[0], 1, 30),
        ["Relu"] = (a, t) => a[0].relu(),
        ["Add"] = (a, t) => a[0] + a[1],
        ["Np.Add"] = (a, t) => a[0] + a[1],
        ["Sub"] = (a, t) => a[0] - a[1],
        ["Mul"] = (a, t) => a[0] * a[1],
        ["Div"] = (a, t) => a[0] / a[1],
        ["Mul by double"] = (a, t) => a[0] * 2.5 - 1.0 / (a[0] * a[0] + 1),
        ["Pow"] = (a, t) => a[0].pow(a[1]),
        ["Maximum"] = (a, t) => torch.maximum(a[0], a[1]),
        ["Minimum"] = (a, t) => torch.minimum(a[0], a[1]),
        ["Where"] = (a, t) => torch.where(a[0].gt(0.0), a[1], a[2]),
        ["Zeros/Ones"] = (a, t) => a[0] * torch.ones_like(a[0]) + torch.zeros_like(a[0]),
        ["CustomJvp"] = (a, t) => torch.nn.functional.softplus(a[0], 1, 30) * a[0],
        ["Log1p"] = (a, t) => a[0].log1p(),
        ["Expm1"] = (a, t) => a[0].expm1(),
        ["Erf"] = (a, t) => a[0].erf(),
        ["Atan"] = (a, t) => a[0].atan(),
        ["Square"] = (a, t) => a[0].square(),
        // numpy's clip: minimum(maximum(x, lo), hi), so hi wins where lo > hi
        ["Clip"] = (a, t) => torch.minimum(torch.maximum(a[0], a[1]), a[2]),
        // the elementwise vocabulary (Specs.Elementwise.cs)
        ["Asin"] = (a, t) => a[0].asin(),
        ["Acos"] = (a, t) => a[0].acos(),
        ["Atan2"] = (a, t) => a[0].atan2(a[1]),
        ["Tan"] = (a, t) => a[0].tan(),
        ["Sinh"] = (a, t) => a[0].sinh(),
        ["Cosh"] = (a, t) => a[0].cosh(),
        ["Asinh"] = (a, t) => a[0].asinh(),
        ["Atanh"] = (a, t) => a[0].atanh(),
        ["Erfc"] = (a, t) => a[0].erfc(),
        ["ErfInv"] = (a, t) => a[0].erfinv(),
        ["Lgamma"] = (a, t) => a[0].lgamma(),
        ["Digamma"] = (a, t) => a[0].digamma(),
        ["Polygamma(1, x)"] = (a, t) => a[0].polygamma(1),
        ["Polygamma(2, x)"] = (a, t) => a[0].polygamma(2),
        ["LogAddExp"] = (a, t) => torch.logaddexp(a[0], a[1]),
        ["Rsqrt"] = (a, t) => a[0].rsqrt(),
        ["Cbrt"] = (a, t) => a[0].sign() * a[0].abs().pow(1.0 / 3),
        ["Hypot"] = (a, t) => a[0].hypot(a[1]),
        ["Gelu"] = (a, t) => torch.nn.functional.gelu(a[0]),
        ["Gelu(approximate: true)"] = (a, t) => a[0].gelu(TorchSharp.Modules.GELU.Approximate.tanh),
        ["Silu"] = (a, t) => torch.nn.functional.silu(a[0]),
        ["LogSigmoid"] = (a, t) => a[0].log_sigmoid(),
        ["LeakyRelu"] = (a, t) => torch.where(a[0].ge(0.0), a[0], a[0] * a[1]),
        // (the negative branch on min(x, 0): where x is large, expm1(x) overflows, and the unselected branch's infinite
        // partials times zero would make the gradient NaN)
        ["Elu"] = (a, t) => torch.where(a[0].gt(0.0), a[0], a[1] * a[0].clamp_max(0.0).expm1()),
        ["Sum"] = (a, t) => Reduce(a[0], t, (x, ax, k) => x.sum(ax, k), x => x.sum()),
        ["Mean"] = (a, t) => Reduce(a[0], t, (x, ax, k) => x.mean([ax], k), x => x.mean()),
        ["Max"] = (a, t) => Reduce(a[0], t, (x, ax, k) => x.amax([ax], k), x => x.max()),
        ["LogSumExp"] = (a, t) => Reduce(a[0], t, (x, ax, k) => x.logsumexp(ax, k), x => x.flatten().logsumexp(0)),
        ["Prod"] = (a, t) => Reduce(a[0], t, (x, ax, k) => x.prod(ax, k), x => x.prod()),
        // contractions and sorting (Specs.Contractions.cs): libtorch's einsum, tensordot, outer, kron, stable sort, gather
        ["Einsum(trace)"] = (a, t) => torch.einsum("ii->", a[0]),
        ["Einsum(diagonal, transpose)"] = (a, t) => torch.einsum("iji->ji", a[0]),
        ["Einsum(bmm)"] = (a, t) => torch.einsum("bij,bjk->bik", a[0], a[1]),
        ["Einsum(ellipsis, broadcast)"] = (a, t) => torch.einsum("...ij,...jk->...ik", a[0], a[1]),
        ["Einsum(three operands)"] = (a, t) => torch.einsum("ij,jk,kl->li", a[0], a[1], a[2]),
        ["Einsum(implicit, sum)"] = (a, t) => torch.einsum("ijk,ik", a[0], a[1]),
        ["TensorDot"] = (a, t) => torch.tensordot(a[0], a[1], [1, 2], [0, 1]),
        ["TensorDot(axes)"] = (a, t) => torch.tensordot(a[0], a[1], [0, 2], [1, 0]),
        ["Outer"] = (a, t) => torch.outer(a[0].flatten(), a[1].flatten()),
        // (libtorch's kron views its operands, which fails on a non-contiguous one, such as a transpose)
        ["Kron"] = (a, t) => torch.kron(a[0].contiguous(), a[1].contiguous()),
        ["Kron(ranks differ)"] = (a, t) => torch.kron(a[0].contiguous(), a[1].contiguous()),
        ["Sort"] = (a, t) => a[0].sort(Axis(((SpecCall)t.Attr!).Param is int ax ? ax : -1, a[0].dim()), false, true).Values,
        ["Sort(axis 0)"] = (a, t) => a[0].sort(Axis(((SpecCall)t.Attr!).Param is int ax ? ax : 0, a[0].dim()), false, true).Values,
        ["TopK"] = (a, t) => a[0].sort(-1, true, true).Values.narrow(-1, 0, 2),
        ["Softmax"] = (a, t) => a[0].softmax(Axis((int)((SpecCall)t.Attr!).Param!, a[0].dim())),
        ["LogSoftmax"] = (a, t) => a[0].log_softmax(Axis((int)((SpecCall)t.Attr!).Param!, a[0].dim())),
    };



    /// <summary>The projection <c>Σ Sum(out_i * w_i)</c> at <paramref name="inputs"/> and its gradient by <c>torch.autograd.grad</c>, flattened as <see cref="ArgLayout.Flatten"/> does.</summary>
    public static (double Value, double[] Grad) ValueAndGrad(RandomProgram p, object[] inputs, object[] weights)
    {
        using var scope = torch.NewDisposeScope();
        var layout = p.Layout;
        var xLeaves = layout.Unpack(inputs[0]).Select(l => Leaf(l).requires_grad_(true)).ToArray();
        var leaves = inputs.Length > 1 ? [.. xLeaves, Leaf(inputs[1])] : xLeaves;
        var vars = new Dictionary<int, TT>();
        TT s = torch.tensor(0.0, torch.ScalarType.Float64);
        for (int i = 0; i < p.Outputs.Count; i++)
        {
            var o = Eval(p.Outputs[i], leaves, vars);
            var w = weights[i] is Tensor wt ? wt.ToTorch() : torch.tensor((double)weights[i], torch.ScalarType.Float64);
            s = s + (o * w).sum();
        }
        // every leaf takes part (with a zero), so each gets a gradient even where the program does not use it
        foreach (var l in xLeaves) s = s + (l * 0.0).sum();
        var grads = torch.autograd.grad([s], xLeaves);
        var flat = grads.SelectMany(g => g.to_type(torch.ScalarType.Float64).contiguous().data<double>().ToArray()).ToArray();
        return (s.item<double>(), flat);
    }

    static TT Leaf(object leaf) => leaf is Tensor t
        ? torch.tensor(t.AsType(DType.Float64).ToDoubleArray(), t.Shape.Select(d => (long)d).ToArray(), torch.ScalarType.Float64)
        : torch.tensor((double)leaf, torch.ScalarType.Float64);

    static long[] Dims(Term t) => t.Shape is { } s ? s.Select(d => (long)d).ToArray() : [];

    static TT Full(Term t, double v) => torch.full(Dims(t), v, torch.ScalarType.Float64);

    static long Axis(int axis, long rank) => axis < 0 ? axis + rank : axis;

    static TT Reduce(TT a, Term t, Func<TT, long, bool, TT> byAxis, Func<TT, TT> all)
    {
        var r = (Reduction)((SpecCall)t.Attr!).Param!;
        return r.Axis is int ax ? byAxis(a, Axis(ax, a.dim()), r.KeepDims) : all(a).reshape(Dims(t));
    }

    static TT Eval(Term t, TT[] leaves, Dictionary<int, TT> vars)
    {
        switch (t.Op)
        {
            case Op.Let:
            {
                var v = (VarRef)t.Attr!;
                vars[v.Id] = Eval(t.Args[0], leaves, vars);
                var body = Eval(t.Args[1], leaves, vars);
                vars.Remove(v.Id);
                return body;
            }
            case Op.Cond:
                // C#'s conditional: only the branch taken is evaluated (and recorded)
                return Eval(t.Args[0], leaves, vars).item<double>() > 0 ? Eval(t.Args[1], leaves, vars) : Eval(t.Args[2], leaves, vars);
            case Op.Fold or Op.Scan or Op.While:
                return Loop(t, leaves, vars);
        }
        var a = t.Args.Select(x => Eval(x, leaves, vars)).ToArray();
        TT r = t.Op switch
        {
            Op.Arg => leaves[(int)t.Attr!],
            Op.Var => vars[((VarRef)t.Attr!).Id],
            Op.Const => Full(t, (double)t.Attr!),
            Op.Spec => Forms[t.SpecOp!.Name](a, t),
            Op.InDomain => (Domain)t.Attr! == Domain.Unit ? a[0].tanh() * 0.9 : a[0] * a[0] + 1,
            Op.Dot or Op.MatMul => torch.matmul(a[0], a[1]),
            Op.Transpose => t.Attr is int[] perm
                ? a[0].permute(perm.Select(x => Axis(x, a[0].dim())).ToArray())
                : a[0].permute(Enumerable.Range(0, (int)a[0].dim()).Reverse().Select(x => (long)x).ToArray()),
            Op.Reshape => a[0].reshape(((int[])t.Attr!).Select(d => (long)d).ToArray()),
            Op.BroadcastTo => a[0].expand(Dims(t)),
            Op.Concatenate => torch.cat(a, Axis((int)t.Attr!, a[0].dim())),
            Op.Stack => torch.stack(a, Axis((int)t.Attr!, a[0].dim() + 1)),
            Op.Take => Gather(a[0], (Gather)t.Attr!),
            Op.ToDouble => t.Args[0].Shape!.Length == 0 ? a[0] : a[0].sum(),
            // (Tensor)d: a weak scalar, exact, beside a float64 tensor
            Op.FromDouble => a[0],
            _ => throw new NotSupportedException($"no TorchSharp evaluation of {t.Op}"),
        };
        var want = Dims(t);
        if (!r.shape.SequenceEqual(want))
            throw new InvalidOperationException($"the TorchSharp evaluation of {t.Op} gave shape [{string.Join(",", r.shape)}], the generator tracked [{string.Join(",", want)}]");
        return r;
    }

    /// <summary>A loop unrolled on the host, step by step, as autograd records it (the body, condition and y read the loop's variables).</summary>
    static TT Loop(Term t, TT[] leaves, Dictionary<int, TT> vars)
    {
        var l = (Loop)t.Attr!;
        var c = Eval(t.Args[0], leaves, vars);
        TT At(int i) => Eval(t.Args[i], leaves, vars);
        TT r;
        switch (t.Op)
        {
            case Op.Fold:
                for (int i = 0; i < l.Count; i++)
                {
                    vars[l.Carry.Id] = c;
                    vars[l.Extra!.Id] = torch.tensor((double)i, torch.ScalarType.Float64);
                    c = At(1);
                }
                r = c;
                break;
            case Op.Scan:
            {
                var xs = At(1);
                var ys = new List<TT>();
                for (long i = 0; i < xs.shape[0]; i++)
                {
                    vars[l.Carry.Id] = c;
                    vars[l.Extra!.Id] = xs[i];
                    var next = At(2);
                    ys.Add(At(3));
                    c = next;
                }
                var stacked = torch.stack(ys, 0);
                r = l.Mode switch { 0 => c, 1 => stacked, _ => c + stacked.sum(0L, false) };
                break;
            }
            default:
                // at most Count trips, while the condition stays below the threshold
                for (int k = 0; ; k++)
                {
                    vars[l.Carry.Id] = c;
                    if (!(k < l.Count && At(1).item<double>() < l.Threshold)) break;
                    c = At(2);
                }
                r = c;
                break;
        }
        vars.Remove(l.Carry.Id);
        if (l.Extra is { } e) vars.Remove(e.Id);
        return r;
    }

    static TT Gather(TT x, Gather g)
    {
        long ax = Axis(g.Axis, x.dim()), n = x.shape[ax];
        var idx = torch.tensor(g.Indices.Select(i => (long)i < 0 ? (long)i + n : (long)i).ToArray(), torch.ScalarType.Int64);
        return x.index_select(ax, idx);
    }
}
