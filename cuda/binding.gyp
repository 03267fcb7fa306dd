# node-gyp build of the optional CUDA binding (scripts/build-cuda.mjs runs it: npm run build:cuda).
# Every .cu file in this folder is compiled by nvcc through the rule below, for the architectures in
# SQZ_CUDA_ARCH (default "80 90": A100, H100/H200), plus PTX of the last one so newer GPUs can run it.
# The CUDA runtime is linked statically: the addon then needs only the driver (libcuda) at run time,
# and loads (reporting "no device" / "driver") on machines without one.
{
  'variables': {
    'cuda_home%': '<!(node -p "process.env.CUDA_HOME || process.env.CUDA_PATH || \'/usr/local/cuda\'")',
    'gencode%': '<!(node -p "const a = (process.env.SQZ_CUDA_ARCH || \'80 90\').split(/[ ,;]+/).filter(Boolean); a.map(s => \'-gencode=arch=compute_\' + s + \',code=sm_\' + s).concat(\'-gencode=arch=compute_\' + a[a.length - 1] + \',code=compute_\' + a[a.length - 1]).join(\' \')")',
  },
  'targets': [
    {
      'target_name': 'sqz_cuda',
      'sources': [
        'addon/binding.cc',
        '<!@(node -p "require(\'fs\').readdirSync(\'.\').filter(f => f.endsWith(\'.cu\')).sort().join(\' \')")',
      ],
      'include_dirs': ['<!(node -p "require(\'node-addon-api\').include_dir")', '<(cuda_home)/include'],
      'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
      'cflags_cc': ['-std=c++17', '-fexceptions', '-O2'],
      'cflags_cc!': ['-fno-exceptions', '-std=gnu++17'],
      'libraries': ['-L<(cuda_home)/lib64', '-lcudart_static', '-ldl', '-lrt', '-lpthread'],
      'rules': [
        {
          'rule_name': 'nvcc',
          'extension': 'cu',
          'inputs': ['<(RULE_INPUT_PATH)'],
          'outputs': ['<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).o'],
          'action': ['<(cuda_home)/bin/nvcc', '-std=c++17', '-O3', '-Xcompiler', '-fPIC', '<@(gencode)', '-c', '<(RULE_INPUT_PATH)', '-o', '<@(_outputs)'],
          'message': 'nvcc <(RULE_INPUT_PATH)',
          'process_outputs_as_sources': 1,
        },
      ],
    },
  ],
}
