// What the common kube-prometheus alerts mean and what to check first. Operators can override
// or add entries in the configuration (workflows.alertEnrichment.alertExplanation.overrides).

export interface Explanation {
  explanation: string;
  nextSteps: string[];
}

export const EXPLANATIONS: Readonly<Record<string, Explanation>> = {
  KubePodCrashLooping: {
    explanation:
      'A container keeps exiting and Kubernetes keeps restarting it, waiting longer between attempts (CrashLoopBackOff).',
    nextSteps: [
      'Read the previous container’s last log lines (attached) for the error it exited with.',
      'Check the exit code: 1 is an application error, 137 a kill (often OOM), 139 a segfault, 127/126 a bad command.',
      'Look for a recent rollout, ConfigMap or Secret change, or a dependency (database, API) that is down.',
    ],
  },
  KubePodNotReady: {
    explanation: 'A pod has not been Ready for more than 15 minutes, so it receives no Service traffic.',
    nextSteps: [
      'Check its readiness probe failures (Unhealthy events) and container states.',
      'If it is Pending, look at scheduling (FailedScheduling events, requests vs free capacity, taints).',
    ],
  },
  KubeContainerWaiting: {
    explanation:
      'A container has been waiting to start for over an hour (image pull, config error, or crash loop).',
    nextSteps: [
      'Read the waiting reason: ImagePullBackOff, CreateContainerConfigError (missing ConfigMap/Secret key) or CrashLoopBackOff.',
      'For image pulls, check the image name and tag, pull secrets and registry rate limits.',
    ],
  },
  KubeDeploymentReplicasMismatch: {
    explanation: 'A Deployment has had fewer available replicas than desired for over 15 minutes.',
    nextSteps: [
      'Find the unhealthy pods of the Deployment and why they are not Ready (crash loop, pending, image pull).',
      'Check whether a rollout is stuck (kubectl rollout status) and cluster capacity for the requests.',
    ],
  },
  KubeStatefulSetReplicasMismatch: {
    explanation: 'A StatefulSet has had fewer ready replicas than desired for over 15 minutes.',
    nextSteps: [
      'StatefulSets start pods in order: the first unhealthy ordinal blocks the rest; look at it first.',
      'Check its PersistentVolumeClaims are Bound and the volumes can attach on the node.',
    ],
  },
  KubeJobFailed: {
    explanation: 'A Job failed: its pods exhausted backoffLimit or hit activeDeadlineSeconds.',
    nextSteps: [
      'Read the failed pods’ exit codes and logs.',
      'Delete the failed Job to clear the alert once understood; its CronJob (if any) will create the next one.',
    ],
  },
  KubeNodeNotReady: {
    explanation:
      'A node has reported NotReady for over 15 minutes: the kubelet is unhealthy or cannot reach the API.',
    nextSteps: [
      'Check the node’s conditions (memory, disk, PID pressure) and kubelet / container runtime status.',
      'Pods on it will be evicted after the toleration period; check that workloads rescheduled.',
    ],
  },
  KubeNodeUnreachable: {
    explanation:
      'A node is unreachable: the node controller added the unreachable taint (network or machine down).',
    nextSteps: [
      'Check the machine and its network from the cloud console.',
      'Check which pods were on it and whether they moved.',
    ],
  },
  KubeMemoryOvercommit: {
    explanation:
      'The cluster has overcommitted memory requests: it cannot tolerate losing a node without pods going Pending.',
    nextSteps: ['Add capacity or lower memory requests of over-provisioned workloads.'],
  },
  KubeCPUOvercommit: {
    explanation:
      'The cluster has overcommitted CPU requests: it cannot tolerate losing a node without pods going Pending.',
    nextSteps: ['Add capacity or lower CPU requests of over-provisioned workloads.'],
  },
  CPUThrottlingHigh: {
    explanation:
      'A container spends a large share of its CPU periods throttled by its CPU limit: it is slowed down.',
    nextSteps: ['Raise or remove the CPU limit, or check why its CPU use rose (load, a busy loop, GC).'],
  },
  TargetDown: {
    explanation:
      'Prometheus cannot scrape a share of the targets of a job: the targets are down or unreachable.',
    nextSteps: [
      'Check the targets’ pods are running and Ready and the metrics port and path are right.',
      'Check NetworkPolicies between Prometheus and the targets.',
    ],
  },
  KubePersistentVolumeFillingUp: {
    explanation: 'A PersistentVolume is nearly full or predicted to fill within days.',
    nextSteps: [
      'Find what grows (logs, data, WAL) and clean up or expand the PVC (if its StorageClass allows expansion).',
    ],
  },
  NodeFilesystemSpaceFillingUp: {
    explanation:
      'A node filesystem is predicted to run out of space: the kubelet will evict pods under disk pressure.',
    nextSteps: [
      'Check container images and logs on the node (image garbage collection, log rotation), and emptyDir usage.',
    ],
  },
  KubeletTooManyPods: {
    explanation: 'A node runs close to its maximum pod count (max-pods): new pods will not schedule there.',
    nextSteps: ['Spread workloads, add nodes, or raise max-pods if the node and its IP range allow it.'],
  },
  KubeHpaMaxedOut: {
    explanation:
      'A HorizontalPodAutoscaler has run at its maximum replicas for a while: demand exceeds what it may scale to.',
    nextSteps: ['Raise maxReplicas or check why the load rose.'],
  },
  KubeDeploymentRolloutStuck: {
    explanation: 'A Deployment rollout is not progressing (ProgressDeadlineExceeded).',
    nextSteps: [
      'Check the new ReplicaSet’s pods; roll back with kubectl rollout undo if the new version is broken.',
    ],
  },
};
