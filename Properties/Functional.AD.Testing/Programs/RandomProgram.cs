using System.Linq.Expressions;
using System.Text;

namespace Functional.AD.Testing.Programs;

/// <summary>
/// A random, well-typed program: <c>(x) =&gt; out</c> or <c>(x, y) =&gt; out</c>, where <c>x</c> is a pytree
/// (see <see cref="ArgLayout"/>) whose leaves are differentiated, <c>y</c> an optional fixed tensor, and <c>out</c> a
/// tensor, a double, or a pair of them (<c>Np.Tuple</c>). Its inputs are drawn from <see cref="Seed"/>, uniform in [-2, 2];
/// every primitive stays inside its domain for all such inputs by construction.
/// </summary>
/// <example><code>
/// RandomProgram p = ProgramGen.FromSeed(7);
/// Console.WriteLine(p);                          // the program as C#
/// var gradient = ProgramOracleKit.Grad(p.Function);   // Ad.Grad of the program, as a LambdaExpression
/// </code></example>
public sealed class RandomProgram
{
    /// <summary>The arguments.</summary>
    public ArgLayout Layout { get; }
    /// <summary>The outputs (one, or two returned as a tuple).</summary>
    public IReadOnlyList<Term> Outputs { get; }
    /// <summary>The seed the program was generated from (its inputs are drawn from it too).</summary>
    public int Seed { get; }
    /// <summary>True when the program was generated from <see cref="Seed"/> as it is (not shrunk), so <c>ProgramGen.FromSeed(Seed)</c> replays it.</summary>
    public bool Original { get; }

    LambdaExpression? function;

    internal RandomProgram(ArgLayout layout, Term[] outputs, int seed, bool original)
    {
        Layout = layout; Outputs = outputs; Seed = seed; Original = original;
    }

    internal RandomProgram WithOutputs(Term[] outputs) => new(Layout, outputs, Seed, false);

    /// <summary>Number of nodes of all outputs.</summary>
    public int Size => Outputs.Sum(o => o.Size);
    /// <summary>Depth of the deepest output.</summary>
    public int Depth => Outputs.Max(o => o.Depth);

    /// <summary>The CLR type of the output.</summary>
    public Type OutputType => Outputs.Count == 1 ? ClrType(Outputs[0]) : typeof(ValueTuple<,>).MakeGenericType(ClrType(Outputs[0]), ClrType(Outputs[1]));

    static Type ClrType(Term t) => t.IsDouble ? typeof(double) : typeof(Tensor);

    /// <summary>The specs of the table the program applies (each once).</summary>
    public IReadOnlyList<SpecOp> Specs()
    {
        var found = new List<SpecOp>();
        void Walk(Term t)
        {
            if (t.SpecOp is { } o && !found.Contains(o)) found.Add(o);
            foreach (var a in t.Operands) Walk(a);
        }
        foreach (var o in Outputs) Walk(o);
        return found;
    }

    /// <summary>
    /// The tensor leaves a vmap can batch: those no <c>double</c> value depends on (a cast <c>(double)t</c>, a condition
    /// of <c>c &gt; 0 ? a : b</c>, a double output, a double operand of a tensor operation). A double computed from batched
    /// data cannot carry a batch axis (<c>Ad.Vmap</c> refuses it, as JAX refuses <c>float(x)</c> of a traced value), so
    /// the other leaves stay unbatched. The generator keeps double code off a random nonempty set of tensor leaves, so
    /// almost every program has one.
    /// </summary>
    public IReadOnlyList<int> BatchableLeaves()
    {
        var tainted = new HashSet<int>();
        var vars = new Dictionary<int, HashSet<int>>();
        HashSet<int> Walk(Term t)
        {
            var deps = new HashSet<int>();
            switch (t.Op)
            {
                case Op.Arg: deps.Add((int)t.Attr!); break;
                case Op.Var: deps.UnionWith(vars.GetValueOrDefault(((VarRef)t.Attr!).Id) ?? []); break;
                case Op.Let:
                    var value = Walk(t.Args[0]);
                    vars[((VarRef)t.Attr!).Id] = value;
                    deps.UnionWith(value);
                    deps.UnionWith(Walk(t.Args[1]));
                    break;
                case Op.Fold or Op.Scan or Op.While:
                {
                    // the carry depends on its initial value and on what the body reads (to a fixpoint: the body reads the carry)
                    var loop = (Loop)t.Attr!;
                    var carry = Walk(t.Args[0]);
                    if (loop.Extra is { } extra) vars[extra.Id] = t.Op == Op.Scan ? Walk(t.Args[1]) : [];
                    while (true)
                    {
                        vars[loop.Carry.Id] = carry;
                        var inside = new HashSet<int>(carry);
                        for (int i = 0; i < t.Args.Length; i++) if (t.InLoopScope(i)) inside.UnionWith(Walk(t.Args[i]));
                        if (inside.SetEquals(carry)) break;
                        carry = inside;
                    }
                    deps.UnionWith(carry);
                    if (loop.Extra is { } e) deps.UnionWith(vars[e.Id]);
                    break;
                }
                default: foreach (var a in t.Args) deps.UnionWith(Walk(a)); break;
            }
            if (t.IsDouble) tainted.UnionWith(deps);
            return deps;
        }
        foreach (var o in Outputs) Walk(o);
        return Enumerable.Range(0, Layout.Leaves.Count).Where(i => Layout.Leaves[i] is not null && !tainted.Contains(i)).ToArray();
    }

    /// <summary>
    /// The program as an expression: <c>Expression&lt;Func&lt;X, R&gt;&gt;</c> or <c>Expression&lt;Func&lt;X, Tensor, R&gt;&gt;</c>
    /// (X the type of <c>x</c>, R of the output).
    /// </summary>
    public LambdaExpression Function => function ??= BuildFunction();

    LambdaExpression BuildFunction()
    {
        var x = Expression.Parameter(Layout.XType, "x");
        var y = Layout.HasFixed ? Expression.Parameter(typeof(Tensor), "y") : null;
        var ctx = new BuildContext(i => Layout.Leaf(x, y, i));
        var outs = Outputs.Select(o => o.Build(ctx)).ToArray();
        var body = outs.Length == 1 ? outs[0]
            : Expression.Call(ArgLayout.TupleMethod.MakeGenericMethod(outs[0].Type, outs[1].Type), outs[0], outs[1]);
        var ps = y is null ? new[] { x } : new[] { x, y };
        var type = y is null ? typeof(Func<,>).MakeGenericType(x.Type, body.Type) : typeof(Func<,,>).MakeGenericType(x.Type, y.Type, body.Type);
        return Expression.Lambda(type, body, ps);
    }

    /// <summary>The arguments drawn from <see cref="Seed"/>: <c>[x]</c> or <c>[x, y]</c>, float64, uniform in [-2, 2].</summary>
    public object[] Inputs() => InputsFrom(Seed);

    /// <summary>The arguments drawn from another seed (oracles redraw when a point is not smooth).</summary>
    public object[] InputsFrom(int seed)
    {
        var rng = new Random(seed ^ 0x5bd1e995);
        object Draw(int[]? s) => s is null ? (object)(rng.NextDouble() * 4 - 2)
            : new Tensor(Enumerable.Range(0, s.Aggregate(1, (a, b) => a * b)).Select(_ => rng.NextDouble() * 4 - 2).ToArray(), s);
        var xs = Enumerable.Range(0, Layout.XLeaves).Select(i => Draw(Layout.Leaves[i])).ToArray();
        var x = Layout.Pack(xs);
        return Layout.HasFixed ? [x, Draw(Layout.Leaves[^1])] : [x];
    }

    /// <summary>The program as C# source: a lambda a test can paste.</summary>
    public string ToCSharp()
    {
        var show = new ShowContext(Layout.LeafName);
        var outs = Outputs.Select(o => o.Show(show)).ToArray();
        var body = outs.Length == 1 ? outs[0] : $"Np.Tuple({outs[0]}, {outs[1]})";
        var outType = Outputs.Count == 1 ? Name(Outputs[0]) : $"({Name(Outputs[0])}, {Name(Outputs[1])})";
        var sig = Layout.HasFixed ? $"Func<{Layout.XTypeName}, Tensor, {outType}>" : $"Func<{Layout.XTypeName}, {outType}>";
        return $"Expression<{sig}> f = {(Layout.HasFixed ? "(x, y)" : "x")} => {body};";
    }

    static string Name(Term t) => t.IsDouble ? "double" : "Tensor";

    /// <summary>The inputs as C# source.</summary>
    public string InputsCSharp(object[]? inputs = null)
    {
        inputs ??= Inputs();
        var sb = new StringBuilder();
        sb.Append("var x = ").Append(Layout.Show(inputs[0])).Append(';');
        if (inputs.Length > 1) sb.Append("\nvar y = ").Append(ArgLayout.ShowLeaf(inputs[1])).Append(';');
        return sb.ToString();
    }

    /// <summary>The program, its inputs and its seed, as C# with a replay line.</summary>
    public override string ToString() =>
        $"// seed {Seed}, {Size} nodes, depth {Depth}" +
        (Original ? $"; replay: ProgramGen.FromSeed({Seed})" : $"; shrunk from ProgramGen.FromSeed({Seed}), inputs: program.InputsFrom({Seed})") +
        "\n" + ToCSharp() + "\n" + InputsCSharp();
}
