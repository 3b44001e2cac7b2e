{{/* Names, labels and the operator pod template shared by the templates. */}}

{{- define "tradingstack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tradingstack.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The operator's Deployments, Service and RBAC objects: <fullname>-operator. */}}
{{- define "tradingstack.operatorFullname" -}}
{{- printf "%s-operator" (include "tradingstack.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tradingstack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tradingstack.operatorFullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tradingstack.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tradingstack
{{- end }}

{{/*
The operator pods' name label. Fixed, whatever nameOverride says: every stack's rendered
Redis NetworkPolicy admits the pods carrying it (render/network.py OPERATOR_POD_LABELS),
so the operator can ask Sentinel for the current master.
*/}}
{{- define "tradingstack.operatorSelector" -}}
app.kubernetes.io/name: tradingstack-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tradingstack.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The namespaces the operator watches; empty when it watches every namespace. */}}
{{- define "tradingstack.watchNamespaces" -}}
{{- if not .Values.rbac.clusterWide }}
{{- default (list .Release.Namespace) .Values.watchNamespaces | uniq | join "," }}
{{- end }}
{{- end }}

{{/*
One operator Deployment. Called with (dict "root" $ "role" "active"|"standby").
One replica and Recreate: two kopf operators with the same identity must never run
at once; a standby is a second Deployment with a lower peering priority instead.
*/}}
{{- define "tradingstack.operatorDeployment" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $standby := eq .role "standby" }}
{{- $name := include "tradingstack.operatorFullname" $root }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ ternary (printf "%s-standby" $name) $name $standby | trunc 63 | trimSuffix "-" }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "tradingstack.labels" $root | nindent 4 }}
    {{- include "tradingstack.operatorSelector" $root | nindent 4 }}
    app.kubernetes.io/component: {{ ternary "operator-standby" "operator" $standby }}
spec:
  replicas: 1
  revisionHistoryLimit: 5
  strategy:
    type: Recreate
  selector:
    matchLabels:
      {{- include "tradingstack.operatorSelector" $root | nindent 6 }}
      app.kubernetes.io/component: {{ ternary "operator-standby" "operator" $standby }}
  template:
    metadata:
      labels:
        {{- include "tradingstack.labels" $root | nindent 8 }}
        {{- include "tradingstack.operatorSelector" $root | nindent 8 }}
        app.kubernetes.io/component: {{ ternary "operator-standby" "operator" $standby }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "tradingstack.serviceAccountName" $root }}
      automountServiceAccountToken: true
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      # kopf waits up to 20 s for its handlers on SIGTERM (config.py), then exits.
      terminationGracePeriodSeconds: 30
      containers:
        - name: operator
          image: {{ include "tradingstack.image" $root }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          command: ["tradingstack", "operator"]
          env:
            # kopf's identity among peers: the pod's name rather than user@host.
            - name: POD_ID
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            # The stacks' Redis NetworkPolicy admits the operator from this namespace only.
            - name: TS_OPERATOR_POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: TS_OPERATOR_NAMESPACES
              value: {{ include "tradingstack.watchNamespaces" $root | quote }}
            - name: TS_OPERATOR_IMAGE
              value: {{ include "tradingstack.image" $root | quote }}
            {{- with $v.operator.redisImage }}
            - name: TS_OPERATOR_REDIS_IMAGE
              value: {{ . | quote }}
            {{- end }}
            - name: TS_OPERATOR_CLUSTER_DOMAIN
              value: {{ $v.operator.clusterDomain | quote }}
            - name: TS_OPERATOR_RESYNC_SECONDS
              value: {{ $v.operator.resyncSeconds | quote }}
            - name: TS_OPERATOR_EVENT_LEVEL
              value: {{ $v.operator.eventLevel | quote }}
            - name: TS_OPERATOR_HEALTH_PORT
              value: {{ $v.operator.healthPort | quote }}
            - name: TS_OPERATOR_METRICS_PORT
              value: {{ $v.operator.metricsPort | quote }}
            - name: TS_OPERATOR_STANDALONE
              value: {{ ternary "false" "true" $v.standby.enabled | quote }}
            - name: TS_OPERATOR_PEERING_NAME
              value: {{ $v.standby.peeringName | quote }}
            - name: TS_OPERATOR_PEERING_PRIORITY
              value: {{ ternary (sub (int $v.standby.priority) 1) (int $v.standby.priority) $standby | quote }}
            {{- with $v.operator.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: health
              containerPort: {{ $v.operator.healthPort }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $v.operator.metricsPort }}
              protocol: TCP
          startupProbe:
            httpGet:
              path: /healthz
              port: health
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet:
              path: /healthz
              port: health
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /healthz
              port: health
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: 2
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{/* The metadata lines a CRD of the chart gets, replacing its "metadata:" line. */}}
{{- define "tradingstack.crdMetadata" -}}
{{- printf "\nmetadata:\n" }}
{{- if .Values.crds.keep }}
{{- printf "  annotations:\n    helm.sh/resource-policy: keep\n" }}
{{- end }}
{{- end }}

{{/* What JSON Schema cannot say about two values together. */}}
{{- define "tradingstack.validate" -}}
{{- if eq (int .Values.operator.healthPort) (int .Values.operator.metricsPort) }}
{{- fail (printf "operator.metricsPort (%v) must differ from operator.healthPort" .Values.operator.metricsPort) }}
{{- end }}
{{- if and .Values.rbac.clusterWide .Values.watchNamespaces }}
{{- fail "watchNamespaces must be empty when rbac.clusterWide is true (the operator watches every namespace)" }}
{{- end }}
{{- end }}

{{- define "tradingstack.peeringHook" -}}
helm.sh/hook: post-install,post-upgrade
helm.sh/hook-delete-policy: before-hook-creation
{{- end }}
