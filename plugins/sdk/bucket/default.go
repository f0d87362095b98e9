package bucket

// DefaultDocument is the rules of Default as a YAML document: fleetprof's
// own components, by the kind of work an op does. Copy it to start a rules
// file of your own (fleetprof analyze --rules FILE).
const DefaultDocument = `# fleetprof bucketing rules "default": device time by the kind of work.
# Rules are tried in order and the first match wins. Each rule sends the ops
# it matches to a component; its keys are case-insensitive Go regexps found
# anywhere in the text (anchor with ^ and $; (?-i:...) matches case), and a
# rule with several keys must match all of them:
#   name      the operation (jit(f)/Qwen3MLP/down_proj/dot_general,
#             copy-done.2, a GPU kernel's name)
#   type      the op type (dot_general, MatMul, aten::addmm, Unknown)
#   category  XLA's hlo_category (convolution fusion, loop fusion,
#             copy-done, all-reduce, control flow, ...) or, for PyTorch,
#             kernel, gpu_memcpy, gpu_memset; unknown when there is none
#   kernel    the op event's own name: a GPU kernel (Cijk_..., sm90_gemm,
#             ncclDevKernel_...); on a TPU the HLO instruction or its text,
#             so the kernel rules below only look at ops XLA gave no
#             telling category (unknown, kernel, custom-call)
version: 1
default: other
rules:
  # Attention first, so that the reshapes and copies inside an attention
  # kernel's scope count as attention: flash and paged attention, Pallas
  # ragged paged attention (RPA-...), splash, multi-head attention kernels.
  - component: attention
    name: flash_?attn|flash_?attention|flashattention|paged_attention|\brpa-|splash|\bmha\b|fmha|multi_?head_?attention|scaled_dot_product|dot_product_attention|decode_attention|context_attention|unified_attention|flashinfer
  - component: attention
    type: attention|attn|^aten::_flash|^aten::_efficient
  - component: attention
    category: ^(unknown|kernel|custom-call)$
    kernel: attention|attn|fmha|\bmha|_mha|flash_fwd|flash_bwd|flashinfer|xformers|sdpa|reshape_and_cache|paged_?kv|kv_?cache|batch_?prefill|batch_?decode|merge_states|_fwd_(grouped_)?kernel

  # Collectives: XLA's collectives and their async halves, JAX's, NCCL and
  # RCCL kernels, vLLM's custom all-reduce, TensorFlow's collective ops.
  - component: collectives
    category: ^(all-reduce|all-gather|reduce-scatter|all-to-all|ragged-all-to-all|collective-permute|collective-broadcast|send|recv|send-done|recv-done)
  - component: collectives
    name: ^(all-reduce|all-gather|reduce-scatter|all-to-all|ragged-all-to-all|collective-permute|collective-broadcast)(-start|-done)?(\.\d+)?$
  - component: collectives
    type: ^(psum|pmax|pmin|pmean|all_gather|all_to_all|reduce_scatter|psum_scatter|ppermute|pbroadcast|(?-i:Collective\w+|Nccl\w+)|c10d::\w+|nccl:\w+|aten::_?all_reduce|aten::_?all_gather\w*|aten::_?reduce_scatter\w*)$
  - component: collectives
    category: ^(unknown|kernel|custom-call)$
    kernel: nccl|rccl|all_?reduce|all_?gather|reduce_?scatter|alltoall|cross_device_reduce|custom_ar

  # GPU memory copies and sets, whichever framework op asked for them.
  - component: data_movement
    category: ^(gpu_memcpy|gpu_memset)$

  # Control flow: XLA's while and conditional (by name or category), JAX's
  # while/cond/scan, TensorFlow's control flow ops. Ops that merely sit in a
  # loop body (.../while/body/add), or compute a cond's predicate (typed cond
  # but categorised elementwise by XLA), are not control flow.
  - component: control_flow
    category: ^control flow$
  - component: control_flow
    name: ^(while|conditional|call)(\.\d+)?$
  - component: control_flow
    category: ^(unknown|control flow)$
    type: ^(while|cond|conditional|scan|switch|(?-i:Switch|Merge|Enter|Exit|NextIteration|LoopCond|While|StatelessWhile|If|StatelessIf|Case|StatelessCase))$

  # Normalisation: batch, layer, RMS, group and instance norm, by op type,
  # by the name scope the model gives them (Qwen3's q_norm, RMSNorm,
  # input_layernorm) or by kernel (cuDNN's bn_fw/bn_bw, layer and RMS norm).
  - component: normalization
    type: batch_?norm|layer_?norm|rms_?norm|group_?norm|instance_?norm|FusedBatchNorm
  - component: normalization
    name: '[a-z_]norm(/|$)|/norm/|rms_?norm|layer_?norm|batch_?norm|group_?norm'
  - component: normalization
    category: ^(unknown|kernel|custom-call)$
    kernel: batch_?norm|layer_?norm|rms_?norm|group_?norm|instance_?norm|\bbn_(fw|bw)|::bn_|welford|norm_kernel|moments|gammabeta|cuApply

  # Convolutions as frameworks name them. (XLA on TPU calls its matrix
  # multiplies "convolution fusion": those go to matmul below.)
  - component: convolution
    type: ^(conv_general_dilated|(?-i:Conv2D|Conv3D|Conv2DBackprop\w+|Conv3DBackprop\w+|DepthwiseConv2dNative\w*)|aten::\w*conv\w*)$

  # Convolution kernels with no type to tell them by (before GEMM kernels:
  # cuDNN's implicit-GEMM convolutions have gemm in their names).
  - component: convolution
    category: ^(unknown|kernel|custom-call)$
    kernel: convolve|convolution|winograd|fprop|dgrad|wgrad|fft2d|conv2d|conv3d|conv_kernel|_conv_|depthwise|scudnn|cudnn::cnn

  # Matrix multiplies: dot ops by type, XLA's convolution fusions, GEMM
  # kernels (cuBLAS, cuBLASLt nvjet, CUTLASS, hipBLASLt/Tensile Cijk_, Triton
  # and XLA gemm fusions, MoE grouped matmuls).
  - component: matmul
    type: ^(dot_general|dot|matmul|einsum|ragged_dot|(?-i:MatMul|BatchMatMul\w*|Einsum|SparseMatMul)|aten::(mm|bmm|addmm|addmv|mv|matmul|linear|baddbmm|addbmm|_scaled_mm|einsum|_grouped_mm))$
  - component: matmul
    category: ^(convolution|convolution fusion)$
  - component: matmul
    name: gemm|cublas|matmul|^dot(\.\d+)?$|dot_general|megablox|\bgmm\b|ragged_dot|fused_moe
  - component: matmul
    category: ^(unknown|kernel|custom-call)$
    kernel: gemm|gemv|cublas|cutlass|^Cijk_|xmma|nvjet|matmul|wmma|s16816|s1688|h1688|i8816|splitK|sgemm|hgemm|fused_moe|triton_tem_fused_\w*mm

  # Random numbers and dropout.
  - component: random
    category: ^(rng|rng-bit-generator|rng-get-and-update-state)$
  - component: random
    type: ^(random_bits|random_seed|random_wrap|random_unwrap|random_fold_in|random_split|threefry2x32|rng_bit_generator|rng_uniform|(?-i:RandomUniform\w*|RandomStandardNormal|StatelessRandom\w*|TruncatedNormal)|aten::(uniform_|normal_|bernoulli_?|rand\w*|native_dropout|dropout|multinomial|exponential_))$
  - component: random
    category: ^(unknown|kernel|custom-call)$
    kernel: philox|curand|random|rng_|dropout|distribution_elementwise

  # Pooling.
  - component: pooling
    category: ^(reduce-window|select-and-scatter)$
  - component: pooling
    type: pool|reduce_window|select_and_scatter
  - component: pooling
    category: ^(unknown|kernel|custom-call)$
    kernel: pool

  # Data movement: copies between memories (XLA's copy-start/copy-done and
  # host offload), layout changes (data formatting: copy, transpose,
  # reshape), slicing, padding, concatenation, gather and scatter.
  - component: data_movement
    category: ^(copy-start|copy-done|copy|data formatting|async-start|async-done|slice|dynamic-slice|dynamic-update-slice|pad|concatenate|gather|scatter|broadcast|transpose|reshape|bitcast|infeed|outfeed|host-offload|host compute)$
  - component: data_movement
    type: ^(Memcpy(HToD|DToH|DToD|HToH)|transpose|reshape|squeeze|expand_dims|broadcast_in_dim|concatenate|pad|slice|dynamic_slice|dynamic_update_slice|gather|scatter|scatter-add|scatter_add|copy|copy_p|device_put|rev|(?-i:Transpose|Reshape|ConcatV2|Pad|PadV2|Slice|StridedSlice|GatherV2|Gather|GatherNd|ScatterNd|Identity|Tile)|aten::(copy_|contiguous|clone|cat|stack|index\w*|gather|scatter\w*|fill_|zero_|zeros\w*|ones\w*|empty\w*|to|_to_copy|embedding\w*|narrow_copy|flip|roll|repeat|constant_pad_nd|pad|slice\w*|select\w*|expand|permute|reshape|view|transpose|t|masked_select|nonzero|where))$
  - component: data_movement
    name: ^(copy|copy-start|copy-done|slice-start|slice-done|dynamic-slice|dynamic-update-slice|transpose|reshape|bitcast|concatenate|pad|gather|scatter|broadcast)([.-]\d+)?$|^memcpy|^memset
  - component: data_movement
    category: ^(unknown|kernel|custom-call)$
    kernel: memcpy|memset|copyBuffer|fillBuffer|CatArrayBatchedCopy|copy_kernel|transpose|_copy|gather|scatter|index_select|indexSelect|concat|^wrapped_(broadcast|slice|dynamic|transpose|concatenate|copy|pad|reshape|gather|scatter)|nchwToNhwc|nhwcToNchw

  # Reductions, softmax, sorting and top-k.
  - component: reduction
    category: ^(reduce|reduction|input fusion|sort)$
  - component: reduction
    type: ^(reduce_sum|reduce_max|reduce_min|reduce_prod|reduce_and|reduce_or|reduce_xor|reduce|argmax|argmin|cumsum|cumprod|cummax|cummin|cumlogsumexp|sort|top_k|approx_top_k|(?-i:Sum|Mean|Max|Min|Prod|ArgMax|ArgMin|Softmax|LogSoftmax|TopKV2)|aten::(sum|mean|max|min|amax|amin|argmax|argmin|softmax|_softmax|log_softmax|_log_softmax|logsumexp|cumsum|sort|topk|norm|linalg_vector_norm|var|std|var_mean|all|any|prod|_softmax_backward_data|_log_softmax_backward_data|nll_loss\w*|cross_entropy_loss|mse_loss\w*))$
  - component: reduction
    category: ^(unknown|kernel|custom-call)$
    kernel: reduc|softmax|argmax|argmin|topk|top_k|sort|scan_kernel|triton_red_|triton_per_|NLLCriterion|cross_entropy

  # Elementwise work and loop fusions.
  - component: elementwise
    category: ^(loop fusion|non-fusion elementwise|elementwise|fusion|output fusion|custom fusion|select|convert|constant|iota|clamp|map)$
  - component: elementwise
    type: ^(add|add_any|sub|mul|div|rem|pow|integer_pow|max|min|neg|abs|sign|exp|exp2|expm1|log|log1p|tanh|logistic|sin|cos|tan|atan2|sqrt|rsqrt|cbrt|erf|erfc|erf_inv|floor|ceil|round|clamp|select_n|convert_element_type|bitcast_convert_type|reduce_precision|eq|ne|lt|le|gt|ge|and|or|not|xor|shift_left|shift_right_logical|shift_right_arithmetic|is_finite|nextafter|square|iota|stop_gradient|custom_jvp_call|custom_vjp_call|pjit|(?-i:Add|AddV2|AddN|Sub|Mul|RealDiv|Div|DivNoNan|Neg|Exp|Log|Tanh|Sigmoid|Relu|Relu6|Elu|Selu|Gelu|Rsqrt|Sqrt|Square|SquaredDifference|Cast|Select|SelectV2|GreaterEqual|Greater|Less|LessEqual|Equal|NotEqual|Maximum|Minimum|BiasAdd|BiasAddGrad|ReluGrad|TanhGrad|SigmoidGrad|Fill|ZerosLike|OnesLike|Pow|Erf|Floor|LogicalAnd|LogicalOr|LogicalNot|AssignAddVariableOp|AssignSubVariableOp|ResourceApply\w+)|aten::(add|add_|sub|sub_|rsub|mul|mul_|div|div_|neg|exp|log|tanh|tanh_|sigmoid|sigmoid_|relu|relu_|gelu|silu|silu_|threshold|threshold_|threshold_backward|clamp|clamp_|clamp_min|clamp_min_|clamp_max|clamp_max_|where|pow|rsqrt|sqrt|abs|sign|addcmul_|addcdiv_|lerp_|_foreach_\w+|gelu_backward|silu_backward|sigmoid_backward|tanh_backward|hardtanh\w*|leaky_relu\w*|eq|ne|lt|le|gt|ge|logical_\w+|bitwise_\w+|maximum|minimum|reciprocal|square|floor|ceil|round|remainder|fmod|masked_fill_?|copysign|erf|exp2|expm1|log1p|_fused_adam_?|_fused_adamw_?|_fused_sgd_?|_amp_\w+|mish|hardswish|hardsigmoid|elu|softplus|cos|sin|arange|linspace|triu|tril))$
  - component: elementwise
    category: ^(unknown|kernel|custom-call)$
    kernel: elementwise|EigenMetaKernel|vectorized|unrolled|pointwise|triton_poi_|loop_\w*fusion|fusion|^wrapped_|Functor|fill_kernel|BiasNHWC|bias|relu|gelu|silu|swiglu|act_and_mul|sigmoid|tanh|rotary|rope|quant|multi_tensor_apply|where_kernel|cast_kernel|convert
`
