using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace Functional.AD;

/// <summary>The shape signature of a call: per leaf its aval (tensors), its kind (scalars) or its value (statics).</summary>
internal sealed class Signature : IEquatable<Signature>
{
    readonly object?[] items;
    readonly int hash;

    public Signature(object?[] items)
    {
        this.items = items;
        var h = new HashCode();
        foreach (var x in items) h.Add(x);
        hash = h.ToHashCode();
    }

    public bool Equals(Signature? o) => o is not null && o.hash == hash && items.AsSpan().SequenceEqual(o.items);
    public override bool Equals(object? obj) => Equals(obj as Signature);
    public override int GetHashCode() => hash;
    public override string ToString() => string.Join(", ", items.Select(x => x?.ToString() ?? "scalar"));
}

/// <summary>One compiled specialisation: the guarded delegate and how it was made (for <c>Ad.Show</c>).</summary>
internal sealed class Specialized<TDel> where TDel : Delegate
{
    /// <summary>The code: compiled, or interpreted until its compiled form is ready (<see cref="InterpretFirst"/>).</summary>
    public required volatile TDel Fn;
    /// <summary>Whether <see cref="Fn"/> is still the interpreted code.</summary>
    public volatile bool Interpreted;
    /// <summary>Makes the listing; run on the first read of <see cref="Listing"/> only (most specialisations are never shown).</summary>
    public required Func<string> MakeListing;
    string? listing;
    public string Listing => listing ??= MakeListing();
}

/// <summary>
/// Tiered specialisations, as the runtime tiers methods: compiling a specialisation to machine code (the runtime's JIT
/// at full optimisation, about 1.5 ms for the XOR gradient) is most of a first call's time, so a specialisation that is
/// straight-line code of moderate size (no loop: a loop interpreted would be slow) runs its first calls through the
/// expression interpreter, which starts in a fraction of that, while the same code is compiled on a thread-pool thread;
/// the compiled delegate then replaces the interpreted one. Both run the same expression (the same operations on the
/// same values, in the same order), so a result does not depend on which ran.
/// </summary>
internal static class InterpretFirst
{
    /// <summary>The largest specialisation (expression nodes) that starts interpreted.</summary>
    const int MaxNodes = 4000;

    /// <summary>
    /// Whether specialisations start interpreted: on unless the app sets the runtime switch
    /// <c>Functional.AD.Jit.InterpretFirst</c> to false (tests turn it off so that their checks run the compiled code).
    /// </summary>
    internal static volatile bool Enabled = !AppContext.TryGetSwitch("Functional.AD.Jit.InterpretFirst", out bool on) || on;

    /// <summary>Overrides <see cref="Enabled"/> for the specialisations this thread compiles (tests of the interpreted start).</summary>
    [ThreadStatic] internal static bool? OnThisThread;

    /// <summary>How many specialisations have started interpreted in this process (for tests).</summary>
    internal static int Started;

    /// <summary>
    /// Whether <paramref name="body"/> may run interpreted first: tiering on, and no loop, no jump, at most
    /// <see cref="MaxNodes"/> nodes.
    /// </summary>
    public static bool Suits(Expression body)
    {
        if (!(OnThisThread ?? Enabled)) return false;
        var v = new Scan();
        v.Visit(body);
        if (v.Looping || v.Count > MaxNodes) return false;
        Interlocked.Increment(ref Started);
        return true;
    }

    /// <summary>Runs <paramref name="compile"/> on the thread pool; a failure keeps the interpreted code (correct, slower).</summary>
    public static void CompileLater(Action compile) =>
        ThreadPool.UnsafeQueueUserWorkItem(static c => { try { c(); } catch (Exception) { } }, compile, preferLocal: false);

    sealed class Scan : ExpressionVisitor
    {
        public int Count;
        public bool Looping;

        public override Expression? Visit(Expression? node)
        {
            if (node is null || Looping) return node;
            if (++Count > MaxNodes || node.NodeType is ExpressionType.Loop or ExpressionType.Goto or ExpressionType.Label) { Looping = true; return node; }
            return base.Visit(node);
        }

        // a constant's value is not visited (a lambda held as a constant is run, not interpreted here)
        protected override Expression VisitLambda<T>(Expression<T> node) { Looping = true; return node; }
    }
}

/// <summary>Jitted delegates and their functions, weakly keyed (a dropped delegate is collected with its cache).</summary>
internal static class JitRegistry
{
    public static readonly ConditionalWeakTable<Delegate, IJitFunction> Table = new();
}

/// <summary>Counts compilations of a jitted delegate (for tests).</summary>
internal interface IJitFunction
{
    int Compilations { get; }
    /// <summary>How many of its specialisations still run interpreted (see <see cref="InterpretFirst"/>).</summary>
    int Interpreted { get; }
    /// <summary>Whether the steady path runs a specialisation's current code (its compiled code once that is ready).</summary>
    bool LastIsCurrent { get; }
}

/// <summary>
/// A jitted function: the program read once, and a cache of compiled specialisations per shape signature. The steady
/// path is one field read: <see cref="Last"/> is the most recent specialisation, whose code starts with a guard that
/// checks the call's shapes against the ones it was compiled for; on a mismatch it asks <see cref="Lookup"/> (a
/// dictionary, then a compile; one compile per signature even when threads race, through <see cref="Lazy{T}"/>).
/// Everything is held by the returned delegate only: when the user drops it, the cache goes with it.
/// </summary>
internal class JitFunction<TDel> : IJitFunction where TDel : Delegate
{
    readonly Program prog;
    readonly ParameterExpression[] ps;
    readonly ConcurrentDictionary<Signature, Lazy<Specialized<TDel>>> cache = new();
    int compilations;
    /// <summary>The most recently used specialisation (guarded).</summary>
    public TDel Last;
    Func<object?[], TDel>? lookupDelegate;

    public int Compilations => compilations;

    public int Interpreted => cache.Values.Count(l => l.IsValueCreated && l.Value.Interpreted);

    public bool LastIsCurrent => cache.Values.Any(l => l.IsValueCreated && ReferenceEquals(l.Value.Fn, Last));

    /// <summary>The expression as given, compiled plainly where the specialised code is too large for the CLR.</summary>
    readonly LambdaExpression source;

    public JitFunction(LambdaExpression f)
    {
        source = f;
        prog = Reader.Read(f);
        ps = prog.Parameters.Select(p => Expression.Parameter(p.Type, p.Name)).ToArray();
        Last = null!;   // set by Entry (Jit1 .. Jit4) to a C# lambda that looks up: nothing to compile before the first call
    }

    public static IJitFunction? Of(Delegate d) => JitRegistry.Table.TryGetValue(d, out var j) ? j : null;

    protected TDel Register(TDel entry) { JitRegistry.Table.AddOrUpdate(entry, this); return entry; }

    Expression MissCall()
    {
        var args = Expression.NewArrayInit(typeof(object), ps.Select(p => Expression.Convert(p, typeof(object))));
        // through a delegate, not a call of Lookup: the JIT would try to inline Lookup into every specialisation,
        // which made each Compile() about 2 ms slower
        var lookup = Expression.Invoke(Expression.Constant(lookupDelegate ??= Lookup), args);
        return Expression.Invoke(lookup, ps);
    }

    /// <summary>The specialisation for these arguments (compiled on first use), made the new <see cref="Last"/>.</summary>
    public TDel Lookup(object?[] args)
    {
        var spec = Get(args);
        var fn = spec.Fn;
        Interlocked.Exchange(ref Last, fn);
        // an interpreted specialisation whose compiled code arrived meanwhile: that swap may have missed Last
        var now = spec.Fn;
        if (!ReferenceEquals(now, fn)) Interlocked.CompareExchange(ref Last, now, fn);
        return now;
    }

    public Specialized<TDel> Get(object?[] args)
    {
        var leaves = new List<object?>();
        for (int i = 0; i < ps.Length; i++) prog.ParamDefs[i].Flatten(args[i], leaves);
        var names = LeafNames();
        var items = new object?[leaves.Count];
        for (int i = 0; i < leaves.Count; i++)
        {
            var input = prog.Graph.Inputs[i];
            items[i] = input.Kind switch
            {
                Kind.Tensor => leaves[i] switch
                {
                    Tensor t => t.Aval,
                    null => throw new ArgumentNullException(names[i], $"Ad.Jit: argument {names[i]} is null; a Tensor is required."),
                    var o => throw new ArgumentException($"Ad.Jit: argument {names[i]} is a {Printer.TypeName(o.GetType())}, but a Tensor is required (for an array, new Tensor(values) or Tensor.FromArray(values)).", names[i]),
                },
                Kind.Double or Kind.Float => null,
                _ => leaves[i],
            };
        }
        bool nans = NanDebug.On;   // Ad.DebugNans is part of the key: a checked specialisation is a different one
        var sig = new Signature([.. items, nans]);
        var lazy = cache.GetOrAdd(sig, s => new Lazy<Specialized<TDel>>(() => Compile(items, nans), LazyThreadSafetyMode.ExecutionAndPublication));
        return lazy.Value;
    }

    List<string> LeafNames()
    {
        var names = new List<string>();
        for (int i = 0; i < ps.Length; i++) names.AddRange(prog.ParamDefs[i].LeafInfo(ps[i].Name ?? $"arg{i}").Select(l => l.Path));
        return names;
    }

    Specialized<TDel> Compile(object?[] items, bool nans)
    {
        Interlocked.Increment(ref compilations);
        var g = prog.Graph;
        var inputAvals = ShapeInference.InputAvals(g, items);
        EntryChecks.Check(prog, inputAvals);
        var av = ShapeInference.Run(g, inputAvals);
        // batched nodes are rewritten into unbatched primitives now that shapes are known, unless the batch loop
        // (per-example code unrolled in vector lanes) takes the whole batched region
        if (Unbatch.HasBatched(g) && BatchLoopPlan.Make(g, av) is null) (g, av) = Unbatch.Run(g, av);
        // a broadcast scalar cotangent read as a scalar by the elementwise steps that multiply it in
        (g, av) = ScalarSeeds.Run(g, av);

        // leaves into locals; the guard checks them against the signature
        var leafExprs = new List<Expression>();
        for (int i = 0; i < ps.Length; i++) prog.ParamDefs[i].LeafAccess(ps[i], leafExprs);
        var leafVars = new List<ParameterExpression>();
        var pre = new List<Expression>();
        var ownData = new Dictionary<Node, ParameterExpression>(RefEq<Node>.Instance);
        var dataVars = new List<ParameterExpression>();
        Expression guard = Expression.Constant(true);
        for (int i = 0; i < leafExprs.Count; i++)
        {
            var v = Expression.Variable(leafExprs[i].Type, "leaf" + i);
            leafVars.Add(v);
            pre.Add(Expression.Assign(v, leafExprs[i]));
            Expression? check = null;
            if (g.Inputs[i].Kind == Kind.Tensor)
            {
                // the guard of a tensor leaf also gives its elements: one call per leaf
                var a = (Aval)items[i]!;
                var d = Expression.Variable(DTypes.ClrType(a.DType).MakeArrayType(), "data" + i);
                ownData[g.Inputs[i]] = d;
                dataVars.Add(d);
                check = TensorGuard(v, d, a);
            }
            else if (g.Inputs[i].Kind is not (Kind.Double or Kind.Float))
                check = StaticGuard(v, items[i]);
            if (check is not null) guard = guard is ConstantExpression ? check : Expression.AndAlso(guard, check);
        }

        var cg = new Codegen(av) { OwnData = ownData };
        cg.EmitGraph(g, leafVars);
        int pos = 0;
        var result = prog.OutDef.Construct(g.Outputs.Select(cg.Obj).ToArray(), ref pos);
        var retType = typeof(TDel).GetMethod("Invoke")!.ReturnType;
        Expression compute = cg.WithArena(Expression.Block(retType, cg.Vars, [.. cg.Stmts, Primitive.Conv(result, retType)]));
        guard = Expression.AndAlso(guard, Expression.Equal(Expression.Field(null, typeof(NanDebug).GetField(nameof(NanDebug.On))!), Expression.Constant(nans)));
        if (nans) compute = NanHook(compute, retType);
        var body = Expression.Block(retType, [.. leafVars, .. dataVars], [.. pre, Expression.Condition(guard, compute, MissCall(), retType)]);
        TDel fn;
        var how = cg.How;
        var leafNames = LeafNames();
        if (!nans && InterpretFirst.Suits(body))
        {
            // the first calls run interpreted while the runtime compiles the code on another thread (see InterpretFirst)
            var lambda = Expression.Lambda<TDel>(body, ps);
            var interpreted = lambda.Compile(preferInterpretation: true);
            var spec = new Specialized<TDel> { Fn = interpreted, Interpreted = true, MakeListing = () => Listing(g, av, how, leafNames) };
            InterpretFirst.CompileLater(() =>
            {
                var compiled = lambda.Compile();
                spec.Fn = compiled;
                Interlocked.CompareExchange(ref Last, compiled, interpreted);
                spec.Interpreted = false;
            });
            return spec;
        }
        try { fn = Expression.Lambda<TDel>(body, ps).Compile(); }
        catch (InvalidProgramException)
        {
            // The CLR refuses methods past its limits (locals, IL size, stack depth): a very large program (a
            // recurrence unrolled over thousands of steps, its gradient) runs as the plain compiled expression,
            // behind the same shape guard. The loop combinators (Np.Scan, Np.Fold, Np.While) avoid this.
            Expression plain = Expression.Invoke(Expression.Constant(source.Compile()), ps);
            if (nans) plain = NanHook(plain, retType);
            fn = Expression.Lambda<TDel>(Expression.Block(retType, [.. leafVars, .. dataVars], [.. pre, Expression.Condition(guard, plain, MissCall(), retType)]), ps).Compile();
            how = g.Nodes.Where(n => !n.IsInput && !n.IsConst).ToDictionary(n => n, _ => "eager (the specialised code is too large for the CLR: the plain compiled program runs)", RefEq<Node>.Instance);
        }
        return new Specialized<TDel> { Fn = fn, MakeListing = () => Listing(g, av, how, leafNames) };
    }

    /// <summary>
    /// The guard of one tensor leaf: <c>(data = JitRt.FitsData&lt;T&gt;(x, A)) != null</c> with A the interned aval it was
    /// compiled for, which also gives the leaf's elements to the code that reads them. A tensor holds its interned aval,
    /// so the steady call is a null check, one reference compare (shape, dtype and weak flag at once) and a type compare
    /// of the array, inlined by the runtime's JIT; no allocation, no call (the structural compare and conversions are out
    /// of line).
    /// </summary>
    static Expression TensorGuard(ParameterExpression v, ParameterExpression data, Aval a) =>
        Expression.NotEqual(Expression.Assign(data, Expression.Call(FitsMethod.MakeGenericMethod(data.Type.GetElementType()!),
            v.Type == typeof(Tensor) ? v : Expression.Convert(v, typeof(Tensor)), Expression.Constant(a.Canonical))), Expression.Constant(null, data.Type));

    static readonly MethodInfo FitsMethod = typeof(JitRt).GetMethod(nameof(JitRt.FitsData))!;

    /// <summary>The guard of a static leaf (an int, a bool, an enum, ...): <c>EqualityComparer&lt;T&gt;.Default.Equals(x, value)</c>, without boxing.</summary>
    static Expression StaticGuard(ParameterExpression v, object? value)
    {
        var cmp = typeof(EqualityComparer<>).MakeGenericType(v.Type);
        var def = Expression.Property(null, cmp.GetProperty(nameof(EqualityComparer<int>.Default))!);
        return Expression.Call(def, cmp.GetMethod(nameof(Equals), [v.Type, v.Type])!, v, Expression.Constant(value, v.Type));
    }

    /// <summary>Ad.DebugNans: the result of <paramref name="compute"/> is checked, and a NaN explained by an op-by-op eager re-run.</summary>
    Expression NanHook(Expression compute, Type retType)
    {
        var checker = new NanChecker(prog);
        var args = Expression.NewArrayInit(typeof(object), ps.Select(p => Expression.Convert(p, typeof(object))));
        return Expression.Convert(Expression.Call(Expression.Constant(checker), typeof(NanChecker).GetMethod(nameof(NanChecker.CheckCall))!,
            args, Expression.Convert(compute, typeof(object)), Expression.Constant("Ad.Jit")), retType);
    }

    string Listing(Graph g, Dictionary<Node, Aval?> av, Dictionary<Node, string> how, List<string> leafNames) =>
        SpecialisedText.Print(prog, ps, g, av, how, leafNames);
}

internal sealed class Jit1<T1, TR>(LambdaExpression f) : JitFunction<Func<T1, TR>>(f)
{
    public Func<T1, TR> Entry() { Last = (a) => Lookup([a])(a); return Register(Call); }
    TR Call(T1 a) => Last(a);
}

internal sealed class Jit2<T1, T2, TR>(LambdaExpression f) : JitFunction<Func<T1, T2, TR>>(f)
{
    public Func<T1, T2, TR> Entry() { Last = (a, b) => Lookup([a, b])(a, b); return Register(Call); }
    TR Call(T1 a, T2 b) => Last(a, b);
}

internal sealed class Jit3<T1, T2, T3, TR>(LambdaExpression f) : JitFunction<Func<T1, T2, T3, TR>>(f)
{
    public Func<T1, T2, T3, TR> Entry() { Last = (a, b, c) => Lookup([a, b, c])(a, b, c); return Register(Call); }
    TR Call(T1 a, T2 b, T3 c) => Last(a, b, c);
}

internal sealed class Jit4<T1, T2, T3, T4, TR>(LambdaExpression f) : JitFunction<Func<T1, T2, T3, T4, TR>>(f)
{
    public Func<T1, T2, T3, T4, TR> Entry() { Last = (a, b, c, d) => Lookup([a, b, c, d])(a, b, c, d); return Register(Call); }
    TR Call(T1 a, T2 b, T3 c, T4 d) => Last(a, b, c, d);
}
