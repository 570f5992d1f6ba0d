using JvpT = Functional.AD.Jvp;
using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// Function transformations, as in JAX. Each takes an <see cref="Expression{TDelegate}"/> and returns a new one,
/// so they compose in any order and to any depth; each is also an extension method, so
/// <c>loss.Grad().Grad()</c> reads as a pipeline.
/// </summary>
/// <example><code>
/// Expression&lt;Func&lt;double, double&gt;&gt; f = x =&gt; Math.Sin(x) * x;
/// var df = Ad.Grad(f);                 // x =&gt; Math.Cos(x) * x + Math.Sin(x)
/// Console.WriteLine(Ad.Show(df));
/// double slope = df.Compile()(1.0);
/// </code></example>
public static partial class Ad
{
    /// <summary>
    /// The gradient of a scalar function with respect to its first argument: ∇f(x), with the argument's pytree type.
    /// Reverse mode (linearize, then transpose). The output must be a <c>double</c>, a <c>float</c> or a rank-0 tensor.
    /// </summary>
    public static Expression<Func<T1, T1>> Grad<T1, TResult>(this Expression<Func<T1, TResult>> f) =>
        (Expression<Func<T1, T1>>)GradCore(f, typeof(Func<T1, T1>), typeof(T1), false);

    /// <summary>The gradient with respect to the first argument; the others are held fixed.</summary>
    public static Expression<Func<T1, T2, T1>> Grad<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f) =>
        (Expression<Func<T1, T2, T1>>)GradCore(f, typeof(Func<T1, T2, T1>), typeof(T1), false);

    /// <summary>The gradient with respect to the first argument; the others are held fixed.</summary>
    public static Expression<Func<T1, T2, T3, T1>> Grad<T1, T2, T3, TResult>(this Expression<Func<T1, T2, T3, TResult>> f) =>
        (Expression<Func<T1, T2, T3, T1>>)GradCore(f, typeof(Func<T1, T2, T3, T1>), typeof(T1), false);

    /// <summary>The gradient with respect to the first argument; the others are held fixed.</summary>
    public static Expression<Func<T1, T2, T3, T4, T1>> Grad<T1, T2, T3, T4, TResult>(this Expression<Func<T1, T2, T3, T4, TResult>> f) =>
        (Expression<Func<T1, T2, T3, T4, T1>>)GradCore(f, typeof(Func<T1, T2, T3, T4, T1>), typeof(T1), false);

    /// <summary>The value and the gradient (w.r.t. the first argument) in one pass: <c>(f(x), ∇f(x))</c>.</summary>
    public static Expression<Func<T1, (TResult Value, T1 Grad)>> ValueAndGrad<T1, TResult>(this Expression<Func<T1, TResult>> f) =>
        (Expression<Func<T1, (TResult, T1)>>)GradCore(f, typeof(Func<T1, (TResult, T1)>), typeof((TResult, T1)), true);

    /// <summary>The value and the gradient (w.r.t. the first argument) in one pass.</summary>
    public static Expression<Func<T1, T2, (TResult Value, T1 Grad)>> ValueAndGrad<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f) =>
        (Expression<Func<T1, T2, (TResult, T1)>>)GradCore(f, typeof(Func<T1, T2, (TResult, T1)>), typeof((TResult, T1)), true);

    /// <summary>The value and the gradient (w.r.t. the first argument) in one pass.</summary>
    public static Expression<Func<T1, T2, T3, (TResult Value, T1 Grad)>> ValueAndGrad<T1, T2, T3, TResult>(this Expression<Func<T1, T2, T3, TResult>> f) =>
        (Expression<Func<T1, T2, T3, (TResult, T1)>>)GradCore(f, typeof(Func<T1, T2, T3, (TResult, T1)>), typeof((TResult, T1)), true);

    /// <summary>The value and the gradient (w.r.t. the first argument) in one pass.</summary>
    public static Expression<Func<T1, T2, T3, T4, (TResult Value, T1 Grad)>> ValueAndGrad<T1, T2, T3, T4, TResult>(this Expression<Func<T1, T2, T3, T4, TResult>> f) =>
        (Expression<Func<T1, T2, T3, T4, (TResult, T1)>>)GradCore(f, typeof(Func<T1, T2, T3, T4, (TResult, T1)>), typeof((TResult, T1)), true);

    /// <summary>
    /// Prints any expression, original or transformed, as C# that compiles: the <c>using</c> lines it needs, then a
    /// method <c>static R F(parameters)</c> with one named intermediate per primitive (after simplification: shared
    /// subexpressions appear once), each written as its public spelling (<c>Np</c>, <c>Lax</c>, operators, <c>Math</c>),
    /// conditionals as <c>if</c>/<c>else</c>, loops (and their derivatives) as <c>Lax.Scan</c>/<c>Lax.While</c> over typed
    /// lambdas, a vmapped function's batched nodes as <c>Lax.Batched</c>, captured
    /// tensors as literals. Pasted into a file (as a local function of a top-level program or a member of a class,
    /// with the pytree types it names in scope) it computes the same numbers. A program that still holds a node without
    /// a public spelling says so in its first line. <see cref="Show(LambdaExpression, object?[])"/> prints the shorter
    /// program specialised to the shapes of example arguments.
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;double, double&gt;&gt; f = x =&gt; Math.Sin(x) * x;
    /// Console.WriteLine(Ad.Show(Ad.Grad(f)));
    /// // using System;
    /// // using Functional.AD;
    /// //
    /// // static double F(double x)
    /// // {
    /// //     var t1 = Math.Cos(x);
    /// //     ...
    /// </code></example>
    /// <param name="f">The function.</param>
    /// <returns>The program as C# source.</returns>
    public static string Show(LambdaExpression f)
    {
        ArgumentNullException.ThrowIfNull(f);
        var p = Reader.Read(f);
        var names = new List<string>();
        for (int i = 0; i < p.Parameters.Length; i++)
            names.AddRange(p.ParamDefs[i].LeafInfo(p.Parameters[i].Name ?? $"arg{i}").Select(l => l.Path));
        return ProgramText.Print(p.Graph, p.Parameters.Select((x, i) => (x.Name ?? $"arg{i}", x.Type)).ToArray(), names, p.OutDef, p.ReturnType);
    }

    /// <summary>Number of primitive applications in <paramref name="f"/> after simplification (its size).</summary>
    public static int OpCount(LambdaExpression f) => Reader.Read(f).Graph.OpCount;

    /// <summary>
    /// The derivative of a scalar function of a scalar is its JVP with tangent 1: forward mode, so that nesting
    /// <c>Grad</c> n times grows slowly (reverse over reverse would double each time).
    /// </summary>
    static LambdaExpression ScalarDerivative(LambdaExpression f, Program prog, Type delegateType, Type resultType)
    {
        var g = prog.Graph;
        var b = new Builder();
        var ins = g.Inputs.Select(x => b.InputLike(x)).ToArray();
        var one = g.Inputs[0].Kind == Kind.Float ? b.Const(1f) : b.Const(1.0);
        var tangents = ins.Select((_, i) => i == 0 ? new V(one) : null).ToArray();
        var (outs, touts) = JvpT.Run(b, g, ins, tangents);
        var d = touts[0]?.N ?? JvpT.Zero(b, outs[0]);
        if (d.Kind != ins[0].Kind) d = b.Apply(d.Kind == Kind.Float ? Prims.CastDouble : Prims.CastFloat, [d]);
        var graph = b.Finish([d]);
        var outDef = TreeDef.Of(resultType);
        var program = new Program { Graph = graph, Parameters = prog.Parameters, ParamDefs = prog.ParamDefs, OutDef = outDef, ReturnType = resultType };
        var lambda = EntryChecks.Wrap(Writer.Write(graph, prog.Parameters, prog.ParamDefs, outDef, delegateType), program);
        Reader.Remember(lambda, program);
        return lambda;
    }

    internal static LambdaExpression GradCore(LambdaExpression f, Type delegateType, Type resultType, bool withValue)
    {
        var prog = Reader.Read(f);
        if (prog.OutDef.Leaf is not (Kind.Tensor or Kind.Double or Kind.Float))
            throw new GradException($"Ad.Grad needs a function with a scalar output (double, float or a rank-0 Tensor), but `{Printer.Expr(f)}` returns {Printer.TypeName(f.ReturnType)}.");
        if (f.Parameters.Count == 0) throw new GradException($"Ad.Grad of `{Printer.Expr(f)}`: the function takes no argument, so there is nothing to differentiate with respect to.");
        RequireDifferentiable(f, prog, [0], withValue ? "Ad.ValueAndGrad" : "Ad.Grad");
        if (!withValue && prog.ParamDefs[0].Leaf is Kind.Double or Kind.Float && prog.OutDef.Leaf is Kind.Double or Kind.Float)
            return ScalarDerivative(f, prog, delegateType, resultType);
        return Reverse(f, prog, [0], delegateType, resultType, withValue, aux: false);
    }

    /// <summary>
    /// Reverse mode over the parameters in <paramref name="wrt"/>: linearize (JVP), transpose, seed with 1.
    /// The result is the value (if asked), then each gradient, then (with <paramref name="aux"/>) the auxiliary outputs.
    /// With <paramref name="aux"/>, the function returns <c>(loss, aux)</c> and only <c>loss</c> is differentiated.
    /// </summary>
    internal static LambdaExpression Reverse(LambdaExpression f, Program prog, int[] wrt, Type delegateType, Type resultType, bool withValue, bool aux)
    {
        var g = prog.Graph;
        var wrtLeaf = new bool[g.Inputs.Length];
        foreach (var a in wrt)
        {
            int off = prog.InputOffset(a);
            for (int i = 0; i < prog.ParamDefs[a].LeafCount; i++) wrtLeaf[off + i] = g.Inputs[off + i].Kind.IsFloating();
        }
        var b = new Builder();
        var ins = g.Inputs.Select(x => b.InputLike(x)).ToArray();
        var (outs, cts) = ReverseInto(b, g, ins, wrtLeaf, [0], o => [SeedFor(b, o[0], f)]);
        var result = new List<Node>();
        if (withValue) result.Add(outs[0]);
        foreach (var a in wrt)
        {
            int off = prog.InputOffset(a);
            for (int i = 0; i < prog.ParamDefs[a].LeafCount; i++)
                result.Add(wrtLeaf[off + i] ? cts[CountTrue(wrtLeaf, off + i)] : ins[off + i]);
        }
        if (aux) result.AddRange(outs.Skip(1));
        // every differentiated tensor leaf must be a float tensor when called: an integer or bool one is named
        var floatOnly = new List<ShapeAgreement>();
        var api = new FunctionText(f, withValue ? "Ad.ValueAndGrad" : "Ad.Grad");
        foreach (var a in wrt)
        {
            int off = prog.InputOffset(a);
            var leaves = prog.ParamDefs[a].LeafInfo(prog.Parameters[a].Name ?? $"arg{a}").ToArray();
            for (int i = 0; i < prog.ParamDefs[a].LeafCount; i++)
                if (g.Inputs[off + i].Kind == Kind.Tensor) floatOnly.Add(ShapeAgreement.Differentiated(off + i, $"the argument {leaves[i].Path}", api));
        }
        return Finish(b, result, prog.Parameters, prog.ParamDefs, resultType, delegateType, [.. floatOnly]);
    }

    /// <summary>The number of flags set before index <paramref name="end"/> (the position of a differentiated leaf among them).</summary>
    static int CountTrue(bool[] flags, int end)
    {
        int c = 0;
        for (int i = 0; i < end; i++) if (flags[i]) c++;
        return c;
    }

    static Node SeedFor(Builder b, Node output, LambdaExpression f) => output.Kind switch
    {
        Kind.Double => b.Const(1.0),
        Kind.Float => b.Const(1f),
        Kind.Tensor => b.Apply(Prims.GradSeed, [output], new Params(new FunctionText(f))),
        _ => throw new GradException($"Ad.Grad needs a scalar output, but `{Printer.Expr(f)}` returns a {output.Kind}."),
    };

    /// <summary>
    /// Emits into <paramref name="b"/> the primal outputs of <paramref name="g"/> and the cotangents of the inputs
    /// flagged in <paramref name="wrtLeaf"/>, given seeds (output cotangents) for the outputs in <paramref name="differentiated"/>.
    /// </summary>
    internal static (Node[] Outs, Node[] Cotangents) ReverseInto(Builder b, Graph g, Node[] ins, bool[] wrtLeaf, int[] differentiated, Func<Node[], Node[]> seeds)
    {
        int n = g.Outputs.Length;
        // plain loops over ints and bools, not LINQ: each LINQ instantiation over a value type is JIT-compiled in every
        // fresh process, even one published ReadyToRun (issue 20)
        var keep = new int[n + differentiated.Length];
        for (int i = 0; i < keep.Length; i++) keep[i] = i < n ? i : n + differentiated[i - n];
        var jvp = JvpT.Restrict(JvpT.Graph(g, wrtLeaf), keep);
        int wrtCount = 0;
        foreach (var w in wrtLeaf) if (w) wrtCount++;
        var linearIn = new bool[g.Inputs.Length + wrtCount];
        for (int i = g.Inputs.Length; i < linearIn.Length; i++) linearIn[i] = true;
        var linearOut = new bool[n + differentiated.Length];
        for (int i = n; i < linearOut.Length; i++) linearOut[i] = true;
        var vjp = Transpose.Graph(jvp, linearIn, linearOut);
        var avals = ins.Where((_, i) => wrtLeaf[i]).Select(x => x.Kind switch
        {
            Kind.Double => b.Const(Aval.ScalarDouble),
            Kind.Float => b.Const(Aval.ScalarFloat),
            _ => R.AvalOf(new V(x)).N,
        }).ToArray();
        // the primal outputs are those of the transposed graph's forward part (the part that reads no seed): a rule may
        // have replaced a primal node there (a loop that also emits its residuals), and a second copy of the original
        // would run that loop twice. So the forward part is inlined first, the seeds made from its outputs, then the rest.
        int nIn = ins.Length + avals.Length;
        var map = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        for (int i = 0; i < nIn; i++) map[vjp.Inputs[i]] = i < ins.Length ? ins[i] : avals[i - ins.Length];
        var readsSeed = new HashSet<Node>(vjp.Inputs.Skip(nIn), RefEq<Node>.Instance);
        var later = new List<Node>();
        foreach (var node in vjp.Nodes)
        {
            if (node.Args.Any(readsSeed.Contains)) { readsSeed.Add(node); later.Add(node); continue; }
            Copy(node);
        }
        var outs = vjp.Outputs.Take(n).Select(o => map[o]).ToArray();
        var seeded = seeds(outs);
        for (int i = nIn; i < vjp.Inputs.Length; i++) map[vjp.Inputs[i]] = seeded[i - nIn];
        foreach (var node in later) Copy(node);
        return (outs, vjp.Outputs.Skip(n).Select(o => map[o]).ToArray());

        void Copy(Node node)
        {
            if (map.ContainsKey(node)) return;
            map[node] = node.IsConst ? b.Const(node.Value!) : b.Apply(node.Op, node.Args.Select(a => map[a]).ToArray(), node.Params, node.Subgraphs, node.Batch);
            map[node].Source ??= node.Source;
            if (node.Witness is { } w && map.TryGetValue(w, out var mw)) map[node].Witness ??= mw;
        }
    }

    /// <summary>Closes the graph, writes it as a lambda over <paramref name="parameters"/> and remembers its program.</summary>
    internal static LambdaExpression Finish(Builder b, IReadOnlyList<Node> outputs, ParameterExpression[] parameters, TreeDef[] defs, Type resultType, Type delegateType,
        ShapeAgreement[]? agreements = null)
    {
        var graph = b.Finish(outputs);
        var outDef = TreeDef.Of(resultType);
        var prog = new Program { Graph = graph, Parameters = parameters, ParamDefs = defs, OutDef = outDef, ReturnType = resultType, Agreements = agreements ?? [] };
        var lambda = EntryChecks.Wrap(Writer.Write(graph, parameters, defs, outDef, delegateType), prog);
        Reader.Remember(lambda, prog);
        return lambda;
    }

    /// <summary>
    /// Rejects a gradient taken with respect to arguments that hold no Tensor, double or float leaf: their
    /// gradient would be the argument itself, returned unchanged, which reads as a result but is not one.
    /// </summary>
    internal static void RequireDifferentiable(LambdaExpression f, Program prog, int[] wrt, string api)
    {
        foreach (var a in wrt)
        {
            var leaves = prog.ParamDefs[a].LeafInfo(prog.Parameters[a].Name ?? $"arg{a}").ToArray();
            if (leaves.Any(l => l.Kind.IsFloating())) continue;
            var what = prog.ParamDefs[a].IsLeaf ? $"a {Printer.TypeName(prog.ParamDefs[a].Type)}"
                : $"a {Printer.TypeName(prog.ParamDefs[a].Type)} whose leaves ({string.Join(", ", leaves.Select(l => $"{l.Path}: {Printer.TypeName(l.Type)}"))}) are all static";
            throw new GradException(
                $"{api} of `{Printer.Expr(f)}`: the argument `{prog.Parameters[a].Name}` is {what}, which has nothing to differentiate " +
                "(int, long, bool, string and enum values are static). Differentiate with respect to a Tensor, double or float, or a pytree holding one.");
        }
    }
}
