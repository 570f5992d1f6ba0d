using System.Linq.Expressions;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// <c>LoopPerExample</c> (Vmap of a loop's derivative, see <c>VmapLoops</c> in the core) lowered as a host loop over the
/// batch: for each example the batched operands are sliced along axis 0 on the device (a leading 1 broadcasts), the
/// one-node sub-graph is run as a lowered body (its loop a host loop too), and the results are stacked on the device.
/// A batch of tapes (the sub-graph gives a static value) is a <c>ScanWhile.PerExample</c> of the per-example tapes.
/// </summary>
internal sealed partial class TorchCompiler
{
    /// <summary>Batch size and per-example aval of the static (tape) results of <c>LoopPerExample</c> nodes, read by the nodes that use them.</summary>
    readonly Dictionary<Node, (int Size, Aval? Inner)> perExampleTapes = new(RefEq<Node>.Instance);

    static TT ExampleOf(TT t, int b) => t.select(0, t.size(0) == 1 ? 0 : b);

    static object ItemOf(object p, int b) => p is ScanWhile.PerExample pe ? pe.Items[pe.Items.Length == 1 ? 0 : b]
        : throw new InvalidOperationException("Internal error: a batched loop tape is not a per-example batch.");

    static TT StackScalars(object[] xs, TorchBackend backend) => xs[0] is float
        ? torch.tensor(xs.Select(x => (float)x).ToArray(), torch.ScalarType.Float32, backend.Device)
        : torch.tensor(xs.Select(x => Convert.ToDouble(x)).ToArray(), torch.ScalarType.Float64, backend.Device);

    internal (Expression, Aval?) EmitPerExample(Node n, Expression[] args, Aval?[] argAvals)
    {
        var batched = n.Params.Get<bool[]>(0);
        var g = n.Subgraphs[0];
        // the batch size, known at compile time from the batched tensors' (or avals', or tapes') leading dimension
        int size = 1;
        for (int k = 0; k < args.Length; k++)
        {
            if (!batched[k]) continue;
            if (n.Args[k].Kind == Kind.Static)
                size = Math.Max(size, perExampleTapes.TryGetValue(n.Args[k], out var pt) ? pt.Size : 1);
            else if (argAvals[k] is { Rank: > 0 } a) size = Math.Max(size, a.Dims[0]);
        }
        var b = Expression.Variable(typeof(int), "b");
        var ins = new Expression[args.Length];
        var inAvals = new Aval?[args.Length];
        var locals = new List<ParameterExpression> { b };
        var setup = new List<Expression>();
        for (int k = 0; k < args.Length; k++)
        {
            // every operand is read once, before the loop
            var op = Expression.Variable(args[k].Type, "op" + k);
            locals.Add(op);
            setup.Add(Expression.Assign(op, args[k]));
            if (!batched[k]) { ins[k] = op; inAvals[k] = argAvals[k]; continue; }
            switch (n.Args[k].Kind)
            {
                case Kind.Tensor:
                    ins[k] = Expression.Call(typeof(TorchCompiler).GetMethod(nameof(ExampleOf), Private)!, Primitive.Conv(op, typeof(TT)), b);
                    inAvals[k] = RowAvalOf(argAvals[k]!);
                    break;
                case Kind.Aval:
                    var row = RowAvalOf(argAvals[k]!);
                    ins[k] = Expression.Constant(row, typeof(Aval));
                    inAvals[k] = row;
                    break;
                case Kind.Static:
                    ins[k] = Expression.Call(typeof(TorchCompiler).GetMethod(nameof(ItemOf), Private)!, Primitive.Conv(op, typeof(object)), b);
                    inAvals[k] = perExampleTapes.TryGetValue(n.Args[k], out var pt) ? pt.Inner : null;
                    break;
                default:
                    throw new NotSupportedException($"Internal error: a batched {n.Args[k].Kind} operand of {n.Op.Name}.");
            }
            ins[k] = Primitive.Conv(ins[k], ClrType(g.Inputs[k]));
        }
        var body = EmitBody(g, ins, inAvals);
        var inner = body.Avals[0];
        var outKind = g.Outputs[0].Kind;
        var outs = Expression.Variable(outKind == Kind.Tensor ? typeof(TT[]) : typeof(object[]), "outs");
        locals.Add(outs);
        var store = body.Then(Expression.Assign(Expression.ArrayAccess(outs, b),
            outKind == Kind.Tensor ? Primitive.Conv(body.Outs[0], typeof(TT)) : Expression.Convert(body.Outs[0], typeof(object))));
        setup.Add(Expression.Assign(outs, Expression.NewArrayBounds(outs.Type.GetElementType()!, Expression.Constant(size))));
        setup.Add(CountedLoop(b, Expression.Constant(size), store));
        if (outKind == Kind.Static)
        {
            perExampleTapes[n] = (size, inner);
            setup.Add(Expression.New(typeof(ScanWhile.PerExample).GetConstructor([typeof(object[])])!, outs));
            return (Expression.Block(typeof(ScanWhile.PerExample), locals, setup), null);
        }
        Aval outAval;
        if (outKind == Kind.Tensor)
        {
            var a = inner ?? throw new NotSupportedException("Internal error: the per-example result of a vmapped loop derivative has no known shape.");
            outAval = new Aval([size, .. a.Dims], a.DType, a.Weak);
            setup.Add(Expression.Call(typeof(TorchCompiler).GetMethod(nameof(StackRows), Private)!, outs));
        }
        else
        {
            outAval = new Aval([size], outKind == Kind.Float ? DType.Float32 : DType.Float64, false);
            setup.Add(Expression.Call(typeof(TorchCompiler).GetMethod(nameof(StackScalars), Private)!, outs, Expression.Constant(backend)));
        }
        return (Expression.Block(typeof(TT), locals, setup), outAval);
    }
}
