using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// Pooling: JAX's <c>reduce_window</c> for max, sum and mean, and the three linear primitives their derivatives are
/// made of. Every one takes a <see cref="WindowParams"/> (window, strides, padding, dilation; one entry per axis) as its
/// only static parameter, so the many public spellings (<c>Np.MaxPool2d(x, 2)</c>, <c>Lax.ReduceWindowMax(x, ...,
/// "SAME")</c>, <c>Lax.ReduceWindow(x, WindowReduction.Mean, ...)</c>) are read as one primitive with one parameter
/// (<see cref="ReadsAs"/>) and equal pools are one node.
/// <list type="bullet">
/// <item><c>ReduceWindowMax(x)</c>: JVP <c>SelectAndGather(t, x)</c>, the tangent at each window's first maximum in
/// row-major window order (JAX's select-and-gather; ties go to the first maximum, so the derivative is one-sided exactly
/// as JAX's).</item>
/// <item><c>SelectAndGather(t, x)</c> is linear in t (x only selects): its JVP is itself on the tangent of t, its
/// transpose <c>SelectAndScatterAdd(ct, x)</c> (JAX's select-and-scatter-add), whose transpose is <c>SelectAndGather</c>
/// again, so the max pool differentiates to any order.</item>
/// <item><c>ReduceWindowSum(x)</c> is linear: its transpose <c>ReduceWindowSumTranspose(ct, aval of x)</c> adds each
/// cotangent at every tap of its window (JAX writes it as a pad and a window sum over the stride-dilated cotangent),
/// whose transpose is the sum pool again. <c>ReduceWindowMean</c> is the sum divided by the number of taps.</item>
/// <item>Vmap: the batch axes become leading axes with window 1, stride 1 and no padding.</item>
/// </list>
/// The declarations (<see cref="DeclarePooling"/>) run with the rest of the vocabulary on first need, after every field
/// initialiser of every part of <c>Prims</c>, so the order in which the compiler meets the partial files does not matter.
/// </summary>
internal static partial class Prims
{
    static readonly Dictionary<MethodInfo, Func<object?[], (Primitive Op, Params Params)>> readsAs = new();

    /// <summary>
    /// The primitive and static parameters that a call of <paramref name="m"/> with static arguments
    /// <paramref name="statics"/> stands for: the method's own primitive and its arguments as they are, unless the
    /// declaration reads them into one parameter (the pooling spellings read into a <see cref="WindowParams"/>, the convolution spellings into a <see cref="ConvParams"/>).
    /// </summary>
    public static (Primitive Op, Params Params) ReadsAs(Primitive p, MethodInfo m, object?[] statics) =>
        readsAs.TryGetValue(m, out var read) ? read(statics) : (p, new Params(statics));

    /// <summary>The max pool (JAX's <c>reduce_window_max</c>).</summary>
    public static Primitive ReduceWindowMax { get { if (reduceWindowMax is null) Vocabulary.Ensure(); return reduceWindowMax!; } private set => reduceWindowMax = value; }
    static Primitive? reduceWindowMax;
    /// <summary>The sum pool (JAX's <c>reduce_window_sum</c>), linear.</summary>
    public static Primitive ReduceWindowSum { get { if (reduceWindowSum is null) Vocabulary.Ensure(); return reduceWindowSum!; } private set => reduceWindowSum = value; }
    static Primitive? reduceWindowSum;
    /// <summary>The mean pool: the sum pool divided by the number of taps, linear.</summary>
    public static Primitive ReduceWindowMean { get { if (reduceWindowMean is null) Vocabulary.Ensure(); return reduceWindowMean!; } private set => reduceWindowMean = value; }
    static Primitive? reduceWindowMean;
    /// <summary>The tangent at each window's first maximum: linear in operand 0, operand 1 (x) selects.</summary>
    public static Primitive SelectAndGather { get { if (selectAndGather is null) Vocabulary.Ensure(); return selectAndGather!; } private set => selectAndGather = value; }
    static Primitive? selectAndGather;
    /// <summary>The cotangent added at each window's first maximum: linear in operand 0, operand 1 (x) selects.</summary>
    public static Primitive SelectAndScatterAdd { get { if (selectAndScatterAdd is null) Vocabulary.Ensure(); return selectAndScatterAdd!; } private set => selectAndScatterAdd = value; }
    static Primitive? selectAndScatterAdd;
    /// <summary>The transpose of the sum pool: linear in operand 0, operand 1 is x's aval.</summary>
    public static Primitive ReduceWindowSumTranspose { get { if (reduceWindowSumTranspose is null) Vocabulary.Ensure(); return reduceWindowSumTranspose!; } private set => reduceWindowSumTranspose = value; }
    static Primitive? reduceWindowSumTranspose;

    static MethodInfo WindowOp(string name, params Type[] ts) => typeof(WindowOps).GetMethod(name, [.. ts, typeof(WindowParams)])!;

    /// <summary>The public overloads of a Lax window method (string and int[] padding, with and without dilation, as they exist).</summary>
    static MethodInfo[] LaxOverloads(string name) => typeof(Lax).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name == name).ToArray();

    /// <summary>
    /// A window primitive: the eager method <paramref name="eager"/>
    /// of <see cref="WindowOps"/>, printed as <c>Lax.{printed}(operands, window, strides, padding, dilation)</c>. Every
    /// public overload of that Lax method is read as it.
    /// </summary>
    static Primitive WindowFamily(string name, MethodInfo eager, string printed, DType[] accepts, int[] nonDiff, BatchRule batch)
    {
        var overloads = LaxOverloads(printed);
        var canonical = overloads.Single(m => m.GetParameters() is var ps && ps.Any(q => q.Name == "windowDilation") && ps.Any(q => q.Name == "padding" && q.ParameterType == typeof(string)));
        var p = Def(name, canonical, aliases: overloads);
        p.Family = PrimFamily.Reduction;
        p.Accepts = accepts;
        p.NonDiff = nonDiff;
        p.EmitRule = (a, _, prm, _) => Expression.Call(eager, [.. a.Select((x, i) => Primitive.Conv(x, eager.GetParameters()[i].ParameterType)), Expression.Constant(prm.Get<WindowParams>(0))]);
        p.FormatRule = (a, _, prm) => $"Lax.{printed}({string.Join(", ", a)}, {prm.Get<WindowParams>(0).ArgsText})";
        p.Cpu = new CpuLowering { Result = EagerResult.Fresh };
        foreach (var m in overloads) ReadWindow(m, p, $"Lax.{printed}");
        return Batch(p, batch);
    }

    /// <summary>Reads a public Lax window method's static arguments (window, strides, padding[, windowDilation]) into a <see cref="WindowParams"/>.</summary>
    static void ReadWindow(MethodInfo m, Primitive p, string op) =>
        readsAs[m] = s => (p, new Params(WindowParams.Of(op, (int[])s[0]!, (int[])s[1]!, s[2]!, s.Length > 3 ? (int[]?)s[3] : null)));

    static void DeclarePooling()
    {
        var T = typeof(Tensor);
        ReduceWindowMax = WindowFamily("ReduceWindowMax", WindowOp(nameof(WindowOps.Max), T), nameof(Lax.ReduceWindowMax), DTypeSets.Numbers, [], BatchWindow);
        ReduceWindowSum = WindowFamily("ReduceWindowSum", WindowOp(nameof(WindowOps.Sum), T), nameof(Lax.ReduceWindowSum), DTypeSets.Numbers, [], BatchWindow);
        ReduceWindowMean = WindowFamily("ReduceWindowMean", WindowOp(nameof(WindowOps.Mean), T), nameof(Lax.ReduceWindowMean), DTypeSets.Floats, [], BatchWindow);
        SelectAndGather = WindowFamily("SelectAndGather", WindowOp(nameof(WindowOps.SelectAndGather), T, T), nameof(Lax.SelectAndGather), DTypeSets.Numbers, [1], BatchWindow);
        SelectAndScatterAdd = WindowFamily("SelectAndScatterAdd", WindowOp(nameof(WindowOps.SelectAndScatterAdd), T, T), nameof(Lax.SelectAndScatterAdd), DTypeSets.Numbers, [1], BatchWindow);
        ReduceWindowSumTranspose = WindowFamily("ReduceWindowSumTranspose", WindowOp(nameof(WindowOps.SumTranspose), T, typeof(Aval)), nameof(Lax.ReduceWindowSumTranspose), DTypeSets.Numbers, [1], BatchWindow);

        // Lax.ReduceWindow(x, reduction, ...): the reduction picks the primitive
        foreach (var m in LaxOverloads(nameof(Lax.ReduceWindow)))
        {
            byMethod.TryAdd(m, ReduceWindowMax);
            readsAs[m] = s => ((WindowReduction)s[0]! switch
            {
                WindowReduction.Max => ReduceWindowMax,
                WindowReduction.Sum => ReduceWindowSum,
                WindowReduction.Mean => ReduceWindowMean,
                var r => throw new ArgumentOutOfRangeException("reduction", r, "Lax.ReduceWindow: Max, Sum or Mean"),
            }, new Params(WindowParams.Of("Lax.ReduceWindow", (int[])s[1]!, (int[])s[2]!, s[3]!, s.Length > 4 ? (int[]?)s[4] : null)));
        }

        // Np's PyTorch spellings: (x, k), (x, k, stride, padding), and for 2-D (x, int[] k, int[] stride, int[] padding)
        foreach (var (name, prim) in new[] { (nameof(Np.MaxPool2d), ReduceWindowMax), (nameof(Np.AvgPool2d), ReduceWindowMean), (nameof(Np.MaxPool1d), ReduceWindowMax), (nameof(Np.AvgPool1d), ReduceWindowMean) })
        {
            int d = name.Contains("2d") ? 2 : 1;
            string op = "Np." + name;
            foreach (var m in typeof(Np).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name == name))
            {
                byMethod.TryAdd(m, prim);
                var pr = prim;
                readsAs[m] = s => (pr, new Params(s switch
                {
                    [int k] => Pools.Params(op, Enumerable.Repeat(k, d).ToArray(), Enumerable.Repeat(k, d).ToArray(), new int[d]),
                    [int k, int st, int pad] => Pools.Params(op, Enumerable.Repeat(k, d).ToArray(), Enumerable.Repeat(st, d).ToArray(), Enumerable.Repeat(pad, d).ToArray()),
                    [int[] k, int[] st, int[] pad] => Pools.Params(op, k, st, pad),
                    _ => throw new InvalidOperationException($"Internal error: {op} read with arguments {string.Join(", ", s)}"),
                }));
            }
        }

        // --- rules, in the user's operators (see the class summary)
        static V W(Primitive p, RuleCtx c, params V[] xs) => Ap(p, xs, c.P);
        ReduceWindowMax.Jvp = (c, t) => t[0] is { } tx ? W(SelectAndGather, c, tx, c.X[0]) : null;
        ReduceWindowSum.Jvp = (c, t) => t[0] is { } tx ? W(ReduceWindowSum, c, tx) : null;
        ReduceWindowSum.Transpose = (c, ct) => [W(ReduceWindowSumTranspose, c, ct, c.Aval(0))];
        ReduceWindowMean.Jvp = (c, t) => t[0] is { } tx ? W(ReduceWindowMean, c, tx) : null;
        ReduceWindowMean.Transpose = (c, ct) => [W(ReduceWindowSumTranspose, c, ct, c.Aval(0)) / c.P.Get<WindowParams>(0).Taps];
        SelectAndGather.Jvp = (c, t) => t[0] is { } tx ? W(SelectAndGather, c, tx, c.X[1]) : null;
        SelectAndGather.Transpose = (c, ct) => [W(SelectAndScatterAdd, c, ct, c.X[1]), null];
        SelectAndScatterAdd.Jvp = (c, t) => t[0] is { } tx ? W(SelectAndScatterAdd, c, tx, c.X[1]) : null;
        SelectAndScatterAdd.Transpose = (c, ct) => [W(SelectAndGather, c, ct, c.X[1]), null];
        ReduceWindowSumTranspose.Jvp = (c, t) => t[0] is { } tx ? W(ReduceWindowSumTranspose, c, tx, c.X[1]) : null;
        ReduceWindowSumTranspose.Transpose = (c, ct) => [W(ReduceWindowSum, c, ct), null];
        foreach (var p in new[] { ReduceWindowSum, ReduceWindowMean })
            p.Cpu = new CpuLowering { Linear = [0], Result = EagerResult.Fresh };
        foreach (var p in new[] { SelectAndGather, SelectAndScatterAdd, ReduceWindowSumTranspose })
            p.Cpu = new CpuLowering { Linear = [0], Result = EagerResult.Fresh };
        // the CPU jit hands the max pool and its cotangent's scatter their result's buffer (the per-call arena for an intermediate)
        ReduceWindowMax.Cpu!.Into = (x, prm, into) => WindowOps.MaxInto((Tensor)x[0]!, prm.Get<WindowParams>(0), into);
        SelectAndScatterAdd.Cpu!.Into = (x, prm, into) => WindowOps.SelectAndScatterAddInto((Tensor)x[0]!, (Tensor)x[1]!, prm.Get<WindowParams>(0), into);
        foreach (var p in new[] { ReduceWindowMax, SelectAndScatterAdd })
            p.Cpu!.IntoWhen = (_, d) => d is DType.Float32 or DType.Float64;
    }

    /// <summary>
    /// The batching rule of every window primitive: the k batch axes of its operands (broadcast to one batch shape) become
    /// leading axes of window 1, stride 1 and no padding; an aval operand (x's, for the sum transpose) gains them too.
    /// </summary>
    static Node BatchWindow(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var batch = Enumerable.Repeat(1, k).ToArray();
        foreach (var x in a)
        {
            var b = BatchRules.Split(u.Dims(x), k).Batch;
            for (int i = 0; i < k; i++)
            {
                if (b[i] == batch[i] || b[i] == 1) continue;
                if (batch[i] != 1)
                    throw new ShapeException($"{p.Name} (batched)", a.Select(u.A).ToArray(), $"batch axis {i} has sizes {batch[i]} and {b[i]}; batch axes must be equal or 1");
                batch[i] = b[i];
            }
        }
        var args = a.Select(x =>
        {
            var core = BatchRules.Split(u.Dims(x), k).Core;
            if (x.Kind == Kind.Aval) return u.AvalConst([.. batch, .. core], u.A(x));
            var (bx, _) = BatchRules.Split(u.Dims(x), k);
            var shaped = u.Reshape(x, [.. bx, .. core]);
            return u.BroadcastTo(shaped, [.. batch, .. core]);
        }).ToArray();
        return u.Apply(p, args, new Params(prm.Get<WindowParams>(0).WithLeadingAxes(k)));
    }
}
